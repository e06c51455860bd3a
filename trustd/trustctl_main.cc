// trustctl: the operator CLI of the trust stack. `trustctl help` lists the commands,
// `trustctl help COMMAND` (or `trustctl COMMAND --help`) describes one; each command's
// flags, usage and --version come from services/common/command_line.h, as the daemons' do.
#include <termios.h>
#include <unistd.h>

#include <functional>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "services/common/command_line.h"
#include "services/common/file_util.h"
#include "services/common/openssl_util.h"
#include "services/config/diagnostic.h"
#include "services/config/loader.h"
#include "services/json/json.h"
#include "services/startup/startup_checks.h"
#include "services/trust/chain_validator.h"
#include "services/trust/master_key.h"
#include "services/trust/policy.h"
#include "services/trust/policy_from_config.h"
#include "services/trust/sealed_secret.h"
#include "services/trustd_client/trustd_client.h"
#include "trustd/limbo.h"
#include "trustd/acme_paths.h"
#include "trustd/trust_state.h"
#include "trustd/verify_text.h"

namespace {

using edge::CommandLine;
using edge::CommandSpec;

constexpr char kDefaultMasterKey[] = "/var/lib/edge/master.key";

// Exit statuses (README, "trustctl").
constexpr int kOk = 0;
constexpr int kFailed = 1;       // Refused, invalid, unhealthy, or could not be done.
constexpr int kUsage = 2;        // A wrong command line.
constexpr int kUnsupported = 3;  // check-config: usable, but has settings this stack ignores.

const edge::FlagSpec kSocketFlag = {"socket", "PATH",
                                    "ask trustd on its Unix socket (may also precede the "
                                    "command)"};

int Fail(absl::string_view message) {
  std::cerr << "trustctl: " << message << "\n";
  return kFailed;
}

std::unique_ptr<edge::trust::TrustdClient> Client(const std::string& socket) {
  return edge::trust::TrustdClient::Create({socket, absl::Seconds(5)});
}

// "trustctl COMMAND: <problem>" and the command's usage on stderr; exit 2.
int UsageError(absl::string_view command, absl::string_view problem);

// --socket after the command wins over --socket before it.
std::string SocketOf(const CommandLine& args, const std::string& global_socket) {
  return args.Value("socket", global_socket);
}

int CheckConfig(const CommandLine& args, const std::string&) {
  const std::string& path = args.positional()[0];
  // Every daemon's start-up checks, in the daemons' own function: what this calls valid
  // starts; what a daemon refuses is reported here first, with the same line.
  edge::startup::CheckedConfig checked = edge::startup::CheckConfigFile(
      path, {edge::startup::Daemon::kTrustd, edge::startup::Daemon::kEdged,
             edge::startup::Daemon::kRestd});
  using Severity = edge::config::Diagnostic::Severity;
  int errors = 0, warnings = 0;
  std::vector<std::string> unsupported;
  for (const edge::config::Diagnostic& d : checked.diagnostics) {
    if (d.severity == Severity::kUnsupported) {
      unsupported.push_back(d.ToString());
      continue;
    }
    std::cerr << d.ToString() << "\n";
    (d.severity == Severity::kError ? errors : warnings)++;
  }
  if (errors == 0) {
    // trustd's deeper checks at start: keys match certificates, passphrases and sealed
    // values decrypt, trust anchors and CRLs parse. (trustd creates a missing master key
    // where its directory exists; this only reads one.)
    auto state = edge::trustd::TrustState::Load(checked.config, 0, edge::trustd::LoadOptions());
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
  if (!unsupported.empty()) {
    std::cerr << "\nnot supported by this stack (the daemons start and ignore these; remove "
                 "them, or expect them to have no effect):\n";
    for (const std::string& line : unsupported) std::cerr << line << "\n";
  }
  std::string counts = absl::StrCat(warnings, warnings == 1 ? " warning" : " warnings");
  if (errors > 0) {
    std::cout << path << ": not valid (" << errors << (errors == 1 ? " error, " : " errors, ")
              << counts << "): the daemons refuse to start\n";
    return kFailed;
  }
  if (!unsupported.empty()) {
    std::cout << path << ": not valid for this stack: " << unsupported.size()
              << (unsupported.size() == 1 ? " setting is" : " settings are")
              << " not supported (listed above; " << counts
              << "); the daemons would start without them\n";
    return kUnsupported;
  }
  std::cout << path << ": valid" << (warnings ? absl::StrCat(" (", counts, ")") : "") << "\n";
  return kOk;
}

// The secret to seal: from standard input ("-" or nothing), or the argument (with a warning:
// any local user reads a command line from /proc).
std::optional<std::string> SecretToSeal(const CommandLine& args) {
  if (!args.positional().empty() && args.positional()[0] != "-") {
    std::cerr << "warning: a secret on the command line can be read by every local user (ps, "
                 "/proc/PID/cmdline) and stays in the shell history; prefer `trustctl encrypt -` "
                 "and type or pipe it\n";
    return args.positional()[0];
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

int Encrypt(const CommandLine& args, const std::string& global_socket) {
  std::optional<std::string> secret = SecretToSeal(args);
  if (!secret) {
    return Fail("encrypt: expected a secret on standard input (one line), found none");
  }
  std::string socket = SocketOf(args, global_socket);
  if (!socket.empty()) {
    auto sealed = Client(socket)->Seal(*secret);
    if (!sealed.ok()) return Fail(sealed.status().message());
    std::cout << *sealed << "\n";
    return kOk;
  }
  auto key = edge::trust::MasterKey::LoadOrCreate(args.Value("master-key", kDefaultMasterKey));
  if (!key.ok()) return Fail(key.status().message());
  std::cout << edge::trust::Seal(*key, *secret) << "\n";
  return kOk;
}

int Verify(const CommandLine& args, const std::string& global_socket) {
  std::string socket = SocketOf(args, global_socket);
  if (!args.Has("purpose")) return UsageError("verify", "--purpose is required");
  if (socket.empty() && !args.Has("config")) {
    return UsageError("verify", "--config FILE or --socket PATH is required");
  }
  if (args.Has("json") && args.Has("text")) {
    return Fail("verify: --json and --text exclude each other; give one");
  }
  edge::trust::Purpose purpose;
  if (!edge::trust::ParsePurpose(args.Value("purpose"), &purpose)) {
    return Fail(absl::StrCat("--purpose: expected platform, edge or client, found \"",
                             args.Value("purpose"), "\""));
  }
  std::string name = args.Value("name");
  const std::string& chain_file = args.positional()[0];
  auto pem = edge::ReadFile(chain_file);
  if (!pem.ok()) return Fail(pem.status().message());
  auto certs = edge::CertsFromPem(*pem, chain_file);
  if (!certs.ok()) return Fail(certs.status().message());
  std::vector<std::string> der;
  for (const auto& c : *certs) der.push_back(edge::CertToDer(c.get()));

  edge::trust::Decision decision;
  if (!socket.empty()) {
    decision = Client(socket)->ValidatePeer(der, purpose, name, "trustctl");
  } else {
    // Only the trust anchors matter here, not whether the daemons could start.
    auto loaded = edge::config::LoadConfigFile(args.Value("config"));
    if (!loaded.ok()) return Fail(loaded.status().message());
    auto policy = edge::trust::PolicyFromConfig(loaded->config, 0);
    if (!policy.ok()) return Fail(policy.status().message());
    auto validator = edge::trust::ChainValidator::Create(*std::move(policy));
    if (!validator.ok()) return Fail(validator.status().message());
    decision = (*validator)->Validate(der, purpose, name, absl::Now());
  }
  if (name.empty()) std::cerr << "warning: " << edge::trustd::kHostNameNotChecked << "\n";
  bool json = args.Has("json") || (!args.Has("text") && ::isatty(STDOUT_FILENO) != 1);
  if (json) {
    std::cout << decision.ToJson() << "\n";
  } else {
    std::cout << edge::trustd::DecisionText(decision, purpose, name);
  }
  return decision.allowed ? kOk : kFailed;
}

int Fingerprint(const CommandLine& args, const std::string&) {
  const std::string& file = args.positional()[0];
  auto pem = edge::ReadFile(file);
  if (!pem.ok()) return Fail(pem.status().message());
  auto certs = edge::CertsFromPem(*pem, file);
  if (!certs.ok()) return Fail(certs.status().message());
  for (const auto& cert : *certs) {
    // Exactly what `openssl x509 -noout -fingerprint -sha256` (OpenSSL 3) prints.
    std::cout << "sha256 Fingerprint=" << edge::Sha256Fingerprint(cert.get()) << "\n";
  }
  return kOk;
}

// trustctl acme status: what trustd's ACME client last wrote (status.json in
// trustd.acme.state_directory): each identity's expiry, next renewal and last result.
int AcmeStatus(const CommandLine& args, const std::string&) {
  if (args.positional()[0] != "status") {
    return UsageError("acme", absl::StrCat("expected \"status\", found \"",
                                           absl::CEscape(args.positional()[0].substr(0, 32)), "\""));
  }
  std::string config_path = args.Value("config", "/etc/edge/config.yaml");
  auto loaded = edge::config::LoadConfigFile(config_path, /*check_files=*/false);
  if (!loaded.ok()) return Fail(loaded.status().message());
  const edge::config::AcmeConfig& acme = loaded->config.trustd.acme;
  if (!acme.enabled()) {
    return Fail(absl::StrCat(config_path, ": trustd.acme is not configured (no directory_url)"));
  }
  std::string path = edge::trustd::AcmeStatusFile(acme);
  auto text = edge::ReadFile(path, 1 << 20);
  if (!text.ok()) {
    return Fail(absl::StrCat(text.status().message(),
                             " (trustd writes it once its ACME client has run; is trustd running "
                             "with this configuration?)"));
  }
  if (args.Has("json")) {
    std::cout << *text;
    return kOk;
  }
  auto doc = edge::json::Parse(*text);
  const edge::json::Value* ids = doc.ok() ? doc->Find("identities") : nullptr;
  if (ids == nullptr || !ids->is_array()) return Fail(absl::StrCat(path, ": not a status file"));
  auto member = [](const edge::json::Value& v, const char* key) -> std::string {
    const edge::json::Value* m = v.Find(key);
    if (m == nullptr || m->is_null()) return "-";
    if (m->is_number()) return absl::StrCat(m->number());
    return m->is_string() ? m->str() : "-";
  };
  std::cout << "ACME CA " << member(*doc, "directory_url") << " (as of "
            << member(*doc, "written") << ")\n";
  bool all_ok = !ids->array().empty();
  for (const edge::json::Value& id : ids->array()) {
    std::vector<std::string> names;
    if (const edge::json::Value* n = id.Find("names"); n && n->is_array()) {
      for (const edge::json::Value& v : n->array()) names.push_back(v.is_string() ? v.str() : "?");
    }
    std::string result = member(id, "last_result");
    std::cout << member(id, "role") << " (" << absl::StrJoin(names, ", ") << ")\n"
              << "  expires:      " << member(id, "not_after") << "\n"
              << "  next renewal: " << member(id, "next_renewal") << "\n"
              << "  last result:  " << result << " (attempted " << member(id, "last_attempt")
              << ")\n";
    if (result == "failed") {
      std::cout << "  failures:     " << member(id, "failures") << "\n"
                << "  error:        " << member(id, "last_error") << "\n";
      if (member(id, "problem_type") != "" && member(id, "problem_type") != "-") {
        std::cout << "  problem:      " << member(id, "problem_type") << "\n";
      }
    }
    if (result != "ok") all_ok = false;
  }
  return all_ok ? kOk : kFailed;
}

int Health(const CommandLine& args, const std::string& global_socket) {
  std::string socket = SocketOf(args, global_socket);
  if (socket.empty()) return UsageError("health", "--socket PATH is required");
  auto status = Client(socket)->Health();
  if (!status.ok()) return Fail(status.status().message());
  std::cout << *status << "\n";
  return *status == "SERVING" ? kOk : kFailed;
}

int Limbo(const CommandLine& args, const std::string&) {
  edge::trustd::LimboOptions options;
  if (args.Has("relax")) {
    for (absl::string_view name : absl::StrSplit(args.Value("relax"), ',', absl::SkipEmpty())) {
      absl::Status s = edge::trust::ApplyRelaxation(name, &options.strict);
      if (!s.ok()) return Fail(absl::StrCat("limbo --relax: ", s.message()));
    }
  }
  std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  auto results = edge::trustd::RunLimboCases(input, options);
  if (!results.ok()) return Fail(absl::StrCat("limbo: ", results.status().message()));
  std::cout << edge::trustd::RenderLimboResults(*results);
  std::cerr << edge::trustd::RenderLimboTally(edge::trustd::TallyLimbo(*results)) << "\n";
  return kOk;
}

struct Command {
  CommandSpec spec;
  std::string one_line;  // For the command list.
  std::function<int(const CommandLine&, const std::string& global_socket)> run;
};

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {
      {{"trustctl check-config",
        "FILE",
        "Checks a YAML or EMS config.json file exactly as trustd, edged and restd check it at\n"
        "start (the same function): every field, the files it names, socket directories,\n"
        "callers' user names, the master key, the offline store's directory, sealed values,\n"
        "and trustd's deeper checks (keys match certificates, passphrases decrypt). Errors and\n"
        "warnings on stderr, one per line with its field path; settings this stack does not\n"
        "implement are listed apart. The verdict is the last line, on stdout.\n"
        "Exit 0: valid. 1: not valid (the daemons refuse to start). 3: no error, but settings\n"
        "this stack does not support (the daemons start and ignore them).\n"
        "Run it as the user the daemons run as (or root) to see what they will see.",
        {},
        1,
        1,
        "FILE"},
       "check a configuration file as the daemons do at start",
       CheckConfig},
      {{"trustctl encrypt",
        "[--master-key FILE] [--socket PATH] [-]",
        "Reads a secret from standard input (a prompt without echo on a terminal; one trailing\n"
        "newline dropped) and prints it sealed as one line \"AES:...\" for appKey, passwords\n"
        "and passphrases. With --socket, trustd seals it. `encrypt TEXT` still works but puts\n"
        "the secret where other users see it (ps, shell history).",
        {{"master-key", "FILE",
          absl::StrCat("the master key to seal under; created (0600) when missing [",
                       kDefaultMasterKey, "]")},
         kSocketFlag},
        0,
        1,
        "- (standard input)"},
       "seal a secret read from standard input",
       Encrypt},
      {{"trustctl verify",
        "(--config FILE | --socket PATH) --purpose platform|edge|client [--name HOST] "
        "[--json|--text] CHAIN.pem",
        "The trust decision for a peer chain (PEM, leaf first), as trustd makes it: readable\n"
        "text on a terminal, one JSON object otherwise (--json, --text choose). Without --name\n"
        "the host name is not checked (a warning says so). Exit 0 allowed, 1 refused.",
        {{"config", "FILE", "decide locally from this configuration's trust anchors"},
         {"purpose", "P", "who the peer is: platform, edge (auto_bind endpoints) or client"},
         {"name", "HOST", "the host name or IP the peer must be (as edged and restd check it)"},
         {"json", "", "print the decision as one JSON object (the default when not a terminal)"},
         {"text", "", "print the decision as text (the default on a terminal)"},
         kSocketFlag},
        1,
        1,
        "CHAIN.pem"},
       "the trust decision for a peer certificate chain",
       Verify},
      {{"trustctl fingerprint",
        "FILE.pem",
        "Prints \"sha256 Fingerprint=AA:BB:...\" per certificate, exactly as OpenSSL 3's\n"
        "`openssl x509 -noout -fingerprint -sha256` does, for fingerprint_allowlist and pins.",
        {},
        1,
        1,
        "FILE.pem"},
       "SHA-256 fingerprints of certificates, as openssl prints them",
       Fingerprint},
      {{"trustctl acme",
        "status [--config FILE] [--json]",
        "Each identity trustd obtains from its ACME CA (trustd.acme): the names, when the\n"
        "certificate expires, when trustd renews it, and the last result with the CA's reason\n"
        "when it failed; read from trustd.acme.state_directory/status.json. Exit 0 when every\n"
        "identity's last order succeeded, 1 otherwise.",
        {{"config", "FILE", "the configuration trustd runs with [/etc/edge/config.yaml]"},
         {"json", "", "print the status file as it is (one JSON object)"}},
        1,
        1,
        "status"},
       "ACME: each managed identity's expiry, next renewal and last result",
       AcmeStatus},
      {{"trustctl health",
        "--socket PATH",
        "Prints the health of the daemon on the socket (\"SERVING\"); exit 0 when it serves.\n"
        "Works for trustd and edged (grpc.health.v1).",
        {kSocketFlag},
        0,
        0,
        ""},
       "the health of trustd or edged on its socket",
       Health},
      {{"trustctl limbo",
        "[--relax NAME[,NAME...]] < limbo.json",
        "x509-limbo harness: a limbo JSON file on stdin, the results JSON on stdout, the score\n"
        "on stderr.",
        {{"relax", "NAME,...",
          "run with trustd.policy relaxations (allow_missing_eku, allow_missing_san, ...), "
          "e.g. for RFC 5280 suites without web-PKI fields"}},
        0,
        0,
        ""},
       "x509-limbo test harness",
       Limbo},
  };
  return commands;
}

std::string TopUsage() {
  std::string out =
      "usage: trustctl [--socket PATH] COMMAND [ARGS]\n"
      "       trustctl help COMMAND | trustctl COMMAND --help | trustctl --version\n\n"
      "The operator's command line of the edge trust stack.\n\ncommands:\n";
  for (const Command& c : Commands()) {
    std::string name = c.spec.name.substr(c.spec.name.find(' ') + 1);
    absl::StrAppend(&out, "  ", name, std::string(14 - name.size(), ' '), c.one_line, "\n");
  }
  absl::StrAppend(&out, "  help          this list, or one command's usage and flags\n",
                  "\n--socket PATH   talk to trustd on its Unix socket instead of reading files "
                  "locally\n");
  return out;
}

const Command* FindCommand(absl::string_view name) {
  for (const Command& c : Commands()) {
    if (c.spec.name == absl::StrCat("trustctl ", name)) return &c;
  }
  return nullptr;
}

int UsageError(absl::string_view command, absl::string_view problem) {
  const Command* c = FindCommand(command);
  std::cerr << "trustctl " << command << ": " << problem << "\n" << edge::Usage(c->spec);
  return kUsage;
}

int UnknownCommand(const std::string& name) {
  std::cerr << "trustctl: unknown command \"" << name << "\"\n" << TopUsage();
  return kUsage;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> all(argv + 1, argv + argc);
  std::string socket;
  // --socket may go before the command.
  while (!all.empty() && absl::StartsWith(all[0], "--socket")) {
    if (all[0] == "--socket" && all.size() >= 2) {
      socket = all[1];
      all.erase(all.begin(), all.begin() + 2);
    } else if (absl::StartsWith(all[0], "--socket=")) {
      socket = all[0].substr(9);
      all.erase(all.begin());
    } else {
      std::cerr << "trustctl: --socket needs a value (PATH)\n" << TopUsage();
      return kUsage;
    }
  }
  if (all.empty()) {
    std::cerr << TopUsage();
    return kUsage;
  }
  const std::string command = all[0];
  if (command == "--version") {
    std::cout << edge::VersionLine("trustctl") << "\n";
    return kOk;
  }
  if (command == "help" || command == "--help" || command == "-h") {
    if (all.size() == 1) {
      std::cout << TopUsage();
      return kOk;
    }
    const Command* c = FindCommand(all[1]);
    if (c == nullptr) return UnknownCommand(all[1]);
    std::cout << edge::Usage(c->spec);
    return kOk;
  }
  const Command* c = FindCommand(command);
  if (c == nullptr) return UnknownCommand(command);
  absl::StatusOr<CommandLine> args =
      edge::ParseCommandLine(c->spec, std::vector<std::string>(all.begin() + 1, all.end()));
  if (std::optional<int> done =
          edge::AnswerHelpVersionOrError(c->spec, args, std::cout, std::cerr)) {
    return *done;
  }
  return c->run(*args, socket);
}
