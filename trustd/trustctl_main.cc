// trustctl: the operator CLI of the trust stack. See kUsage below.
#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "services/common/file_util.h"
#include "services/common/openssl_util.h"
#include "services/config/loader.h"
#include "services/trust/chain_validator.h"
#include "services/trust/master_key.h"
#include "services/trust/policy_from_config.h"
#include "services/trust/sealed_secret.h"
#include "services/trustd_client/trustd_client.h"
#include "services/trust/policy.h"
#include "trustd/limbo.h"
#include "trustd/trust_state.h"

namespace {

constexpr char kUsage[] = R"(usage: trustctl [--socket PATH] COMMAND [ARGS]

commands:
  check-config FILE [--master-key FILE]
      validate a YAML or EMS config.json file: every problem on its own line; exit 0 when
      valid (warnings on stderr), 1 when not
  encrypt [--master-key FILE] [-]
      read a secret from standard input (a prompt without echo on a terminal; one trailing
      newline dropped) and print it sealed as one line "AES:..." (with --socket: sealed by
      trustd). `encrypt TEXT` still works but puts the secret where other users see it (ps)
  verify --config FILE --purpose platform|edge|client [--name HOST] CHAIN.pem
      the trust decision for a peer chain (leaf first) as one JSON object; exit 0 when
      allowed, 1 when refused (with --socket: decided by trustd)
  fingerprint FILE.pem
      "sha256 Fingerprint=AA:BB:..." per certificate, as openssl x509 -fingerprint -sha256
  health
      with --socket: print trustd's health ("SERVING") and exit 0 when it serves
  limbo [--relax NAME[,NAME...]]
      x509-limbo harness: a limbo JSON file on stdin, the results JSON on stdout, the
      score on stderr; --relax runs it with trustd.policy relaxations (allow_missing_eku,
      allow_missing_san, ...), e.g. for RFC 5280 suites without web-PKI fields

--socket PATH   talk to trustd on its Unix socket instead of reading files locally
)";

constexpr char kDefaultMasterKey[] = "/var/lib/edge/master.key";

struct Args {
  std::map<std::string, std::string> flags;
  std::vector<std::string> positional;
};

// Splits "--name value" / "--name=value" flags from positional arguments.
bool ParseArgs(const std::vector<std::string>& in, const std::vector<std::string>& known,
               Args* out) {
  for (size_t i = 0; i < in.size(); ++i) {
    const std::string& a = in[i];
    if (!absl::StartsWith(a, "--")) {
      out->positional.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < in.size()) {
      value = in[++i];
    } else {
      std::cerr << "trustctl: --" << name << " needs a value\n";
      return false;
    }
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::cerr << "trustctl: unknown option --" << name << "\n";
      return false;
    }
    out->flags[name] = value;
  }
  return true;
}

int Fail(absl::string_view message) {
  std::cerr << "trustctl: " << message << "\n";
  return 1;
}

std::unique_ptr<edge::trust::TrustdClient> Client(const std::string& socket) {
  return edge::trust::TrustdClient::Create({socket, absl::Seconds(5)});
}

int Fingerprint(const Args& args) {
  if (args.positional.size() != 1) return Fail("usage: trustctl fingerprint FILE.pem");
  auto pem = edge::ReadFile(args.positional[0]);
  if (!pem.ok()) return Fail(pem.status().message());
  auto certs = edge::CertsFromPem(*pem, args.positional[0]);
  if (!certs.ok()) return Fail(certs.status().message());
  for (const auto& cert : *certs) {
    // Exactly what `openssl x509 -noout -fingerprint -sha256` (OpenSSL 3) prints.
    std::cout << "sha256 Fingerprint=" << edge::Sha256Fingerprint(cert.get()) << "\n";
  }
  return 0;
}

// The secret to seal: from standard input ("-" or nothing), or the argument (with a warning:
// any local user reads a command line from /proc).
std::optional<std::string> SecretToSeal(const Args& args) {
  if (!args.positional.empty() && args.positional[0] != "-") {
    std::cerr << "warning: a secret on the command line can be read by every local user (ps, "
                 "/proc/PID/cmdline) and stays in the shell history; prefer `trustctl encrypt -` "
                 "and type or pipe it\n";
    return args.positional[0];
  }
  bool terminal = ::isatty(STDIN_FILENO) == 1;
  termios saved{};
  if (terminal && ::tcgetattr(STDIN_FILENO, &saved) == 0) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    std::cerr << "secret to seal: " << std::flush;
  } else {
    terminal = false;
  }
  std::string secret;
  std::getline(std::cin, secret);
  if (terminal) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    std::cerr << "\n";
  }
  if (!secret.empty() && secret.back() == '\r') secret.pop_back();
  if (secret.empty()) return std::nullopt;
  return secret;
}

int Encrypt(const Args& args, const std::string& socket) {
  if (args.positional.size() > 1) {
    return Fail("usage: trustctl encrypt [--master-key FILE] [-]   (the secret on stdin)");
  }
  std::optional<std::string> secret = SecretToSeal(args);
  if (!secret) {
    return Fail("encrypt: expected a secret on standard input (one line), found none");
  }
  if (!socket.empty()) {
    auto sealed = Client(socket)->Seal(*secret);
    if (!sealed.ok()) return Fail(sealed.status().message());
    std::cout << *sealed << "\n";
    return 0;
  }
  auto it = args.flags.find("master-key");
  std::string path = it == args.flags.end() ? kDefaultMasterKey : it->second;
  auto key = edge::trust::MasterKey::LoadOrCreate(path);
  if (!key.ok()) return Fail(key.status().message());
  std::cout << edge::trust::Seal(*key, *secret) << "\n";
  return 0;
}

int CheckConfig(const Args& args) {
  if (args.positional.size() != 1) {
    return Fail("usage: trustctl check-config FILE [--master-key FILE]");
  }
  const std::string& path = args.positional[0];
  auto text = edge::ReadFile(path, 4 * 1024 * 1024);
  if (!text.ok()) return Fail(text.status().message());
  std::string dir = path.rfind('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
  edge::config::Config config;
  int errors = 0, warnings = 0;
  for (const auto& d : edge::config::CheckConfigText(*text, path, dir, &config)) {
    std::cerr << d.ToString() << "\n";
    (d.severity == edge::config::Diagnostic::Severity::kError ? errors : warnings)++;
  }
  if (errors == 0) {
    // The deeper checks trustd makes at start: keys match certificates, passphrases and
    // sealed values decrypt, trust anchors and CRLs parse.
    edge::trustd::LoadOptions options;
    auto mk = args.flags.find("master-key");
    if (mk != args.flags.end()) options.master_key_file = mk->second;
    auto state = edge::trustd::TrustState::Load(config, 0, options);
    if (!state.ok()) {
      std::cerr << state.status().message() << "\n";
      ++errors;
    } else {
      for (const std::string& w : (*state)->warnings()) {
        std::cerr << "warning: " << w << "\n";
        ++warnings;
      }
    }
  }
  if (errors > 0) return 1;
  std::cout << path << ": valid" << (warnings ? absl::StrCat(" (", warnings, " warnings)") : "")
            << "\n";
  return 0;
}

int Verify(const Args& args, const std::string& socket) {
  auto purpose_flag = args.flags.find("purpose");
  edge::trust::Purpose purpose;
  if (args.positional.size() != 1 || purpose_flag == args.flags.end() ||
      (socket.empty() && args.flags.count("config") == 0)) {
    return Fail("usage: trustctl verify --config FILE --purpose platform|edge|client "
                "[--name HOST] CHAIN.pem");
  }
  if (!edge::trust::ParsePurpose(purpose_flag->second, &purpose)) {
    return Fail(absl::StrCat("--purpose: expected platform, edge or client, found \"",
                             purpose_flag->second, "\""));
  }
  std::string name = args.flags.count("name") ? args.flags.at("name") : "";
  auto pem = edge::ReadFile(args.positional[0]);
  if (!pem.ok()) return Fail(pem.status().message());
  auto certs = edge::CertsFromPem(*pem, args.positional[0]);
  if (!certs.ok()) return Fail(certs.status().message());
  std::vector<std::string> der;
  for (const auto& c : *certs) der.push_back(edge::CertToDer(c.get()));

  edge::trust::Decision decision;
  if (!socket.empty()) {
    decision = Client(socket)->ValidatePeer(der, purpose, name, "trustctl");
  } else {
    auto loaded = edge::config::LoadConfigFile(args.flags.at("config"));
    if (!loaded.ok()) return Fail(loaded.status().message());
    auto policy = edge::trust::PolicyFromConfig(loaded->config, 0);
    if (!policy.ok()) return Fail(policy.status().message());
    auto validator = edge::trust::ChainValidator::Create(*std::move(policy));
    if (!validator.ok()) return Fail(validator.status().message());
    decision = (*validator)->Validate(der, purpose, name, absl::Now());
  }
  std::cout << decision.ToJson() << "\n";
  return decision.allowed ? 0 : 1;
}

int Health(const std::string& socket) {
  if (socket.empty()) return Fail("health needs --socket PATH");
  auto status = Client(socket)->Health();
  if (!status.ok()) return Fail(status.status().message());
  std::cout << *status << "\n";
  return *status == "SERVING" ? 0 : 1;
}

int Limbo(const Args& args) {
  edge::trustd::LimboOptions options;
  auto relax = args.flags.find("relax");
  if (relax != args.flags.end()) {
    for (absl::string_view name : absl::StrSplit(relax->second, ',', absl::SkipEmpty())) {
      absl::Status s = edge::trust::ApplyRelaxation(name, &options.strict);
      if (!s.ok()) return Fail(absl::StrCat("limbo --relax: ", s.message()));
    }
  }
  if (!args.positional.empty()) return Fail("limbo: reads the limbo file on standard input");
  std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  auto results = edge::trustd::RunLimboCases(input, options);
  if (!results.ok()) return Fail(absl::StrCat("limbo: ", results.status().message()));
  std::cout << edge::trustd::RenderLimboResults(*results);
  std::cerr << edge::trustd::RenderLimboTally(edge::trustd::TallyLimbo(*results)) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> all(argv + 1, argv + argc);
  std::string socket;
  // --socket goes before the command.
  while (!all.empty() && absl::StartsWith(all[0], "--socket")) {
    if (all[0] == "--socket" && all.size() >= 2) {
      socket = all[1];
      all.erase(all.begin(), all.begin() + 2);
    } else if (absl::StartsWith(all[0], "--socket=")) {
      socket = all[0].substr(9);
      all.erase(all.begin());
    } else {
      std::cerr << kUsage;
      return 2;
    }
  }
  if (all.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  std::string command = all[0];
  std::vector<std::string> rest(all.begin() + 1, all.end());
  Args args;
  if (command == "help" || command == "--help" || command == "-h") {
    std::cout << kUsage;
    return 0;
  }
  if (command == "fingerprint") return ParseArgs(rest, {}, &args) ? Fingerprint(args) : 2;
  if (command == "encrypt") {
    return ParseArgs(rest, {"master-key"}, &args) ? Encrypt(args, socket) : 2;
  }
  if (command == "check-config") {
    return ParseArgs(rest, {"master-key"}, &args) ? CheckConfig(args) : 2;
  }
  if (command == "verify") {
    return ParseArgs(rest, {"config", "purpose", "name"}, &args) ? Verify(args, socket) : 2;
  }
  if (command == "health") return Health(socket);
  if (command == "limbo") return ParseArgs(rest, {"relax"}, &args) ? Limbo(args) : 2;
  std::cerr << "trustctl: unknown command \"" << command << "\"\n" << kUsage;
  return 2;
}
