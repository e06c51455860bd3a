#include "services/config/validate.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "services/alwayson/entity_name.h"
#include "services/common/host_port.h"
#include "services/common/log.h"

namespace edge::config {
namespace {

// A file the configuration names must exist and be readable.
void CheckReadable(const std::string& field, const std::string& path, Diagnostics* diags) {
  if (path.empty()) return;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    diags->Error(field, absl::StrCat("expected a readable file, found no such file: ", path));
    return;
  }
  if (S_ISDIR(st.st_mode)) {
    diags->Error(field, absl::StrCat("expected a file, found a directory: ", path));
    return;
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    diags->Error(field, absl::StrCat("expected a readable file, found one this process cannot "
                                     "read (", std::strerror(errno), "): ", path));
    return;
  }
  ::close(fd);
}

void CheckPrivateKeyFile(const std::string& field, const std::string& path, Diagnostics* diags) {
  if (path.empty()) return;
  CheckReadable(field, path, diags);
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH))) {
    diags->Warning(field, absl::StrFormat("private key file %s is readable by %s (mode %04o); "
                                          "chmod 600 %s",
                                          path,
                                          (st.st_mode & S_IROTH) ? "others" : "its group",
                                          st.st_mode & 07777, path));
  }
}

bool IsIpAddress(const std::string& name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

void CheckUser(const std::string& field, const std::string& user, Diagnostics* diags) {
  if (user.find(':') != std::string::npos) {
    diags->Error(field, "expected a user name without ':' (HTTP basic auth splits on it), "
                        "found one that contains ':'");
  }
}

// Per group: the rules that concern one group of the file alone.

void ValidateWsServers(const Config& c, Diagnostics* diags) {
  if (c.ws_servers.empty()) {
    diags->Error("ws_servers", "expected at least one platform server {host, port}, found none");
  }
  for (size_t i = 0; i < c.ws_servers.size(); ++i) {
    if (c.ws_servers[i].host.empty()) {
      diags->Error(absl::StrCat("ws_servers[", i, "].host"),
                   "expected the platform's host name, found none");
    }
  }
  if (c.app_key.empty()) {
    diags->Error("appKey", "expected the application key for the platform, found none");
  }
}

void ValidateWsConnection(const WsConnection& ws, Diagnostics* diags) {
  if (ws.encryption != "ssl" && ws.encryption != "none") {
    diags->Error("ws_connection.encryption",
                 absl::StrCat("expected \"ssl\" or \"none\", found \"", ws.encryption, "\""));
  } else if (ws.encryption == "none") {
    diags->Warning("ws_connection.encryption",
                   "SSL is off: the platform connection, app key included, travels in clear text");
  }
  if (ws.message_chunk_size > ws.max_msg_size) {
    diags->Error("ws_connection.message_chunk_size",
                 absl::StrCat("expected at most max_msg_size (", ws.max_msg_size, "), found ",
                              ws.message_chunk_size));
  }
}

void ValidateHttpServer(const HttpServer& http, bool acme_managed, Diagnostics* diags) {
  if (!http.ssl) {
    diags->Warning("http_server.ssl", "SSL is off: the REST API, passwords included, is served "
                                      "in clear text");
  } else if (!acme_managed) {  // Else trustd obtains the identity (trustd.acme.rest_server).
    if (http.certificate.empty()) {
      diags->Error("http_server.certificate",
                   "expected a PEM certificate chain because http_server.ssl is true, found none");
    }
    if (http.private_key.empty()) {
      diags->Error("http_server.private_key",
                   "expected a PEM private key because http_server.ssl is true, found none");
    }
  }
  if (!http.authenticate) {
    diags->Warning("http_server.authenticate",
                   "authentication is off: anyone who reaches the REST port can use it");
  } else {
    if (http.user.empty()) {
      diags->Error("http_server.user",
                   "expected a user name because http_server.authenticate is true, found none");
    }
    if (http.password.empty()) {
      diags->Error("http_server.password",
                   "expected a password because http_server.authenticate is true, found none");
    }
  }
  CheckUser("http_server.user", http.user, diags);
}

void ValidateCertificates(const Certificates& certs, Diagnostics* diags) {
  if (!certs.validate) {
    diags->Warning("certificates.validate",
                   "certificate validation is off: any peer is accepted, including an attacker");
  }
  if (certs.allow_self_signed) {
    diags->Warning("certificates.allow_self_signed",
                   "self-signed peer certificates are accepted");
  }
  if (certs.disable_hostname_validation) {
    diags->Warning("certificates.disable_hostname_validation",
                   "host names are not checked: any certificate from a trusted CA is accepted "
                   "for any server");
  }
  if (certs.client_cert.empty() != certs.key_file.empty()) {
    diags->Error(certs.client_cert.empty() ? "certificates.client_cert" : "certificates.key_file",
                 "expected client_cert and key_file together (mutual TLS to the platform), "
                 "found only one of them");
  }
}

void ValidateAutoBind(const std::vector<AutoBind>& auto_bind, Diagnostics* diags) {
  std::set<std::string> names;
  for (size_t i = 0; i < auto_bind.size(); ++i) {
    const AutoBind& a = auto_bind[i];
    std::string path = absl::StrCat("auto_bind[", i, "]");
    if (a.name.empty()) {
      diags->Error(path + ".name", "expected the Thing's name, found none");
    } else if (absl::Status s = alwayson::CheckThingName(a.name, path + ".name"); !s.ok()) {
      // The rule's own message starts with the field path, which Error() adds again.
      diags->Error(path + ".name", std::string(absl::StripPrefix(s.message(), path + ".name: ")));
    } else if (!names.insert(a.name).second) {
      diags->Error(path + ".name", absl::StrCat("expected a unique Thing name, found \"", a.name,
                                                "\" a second time"));
    }
    if (a.protocol != "http" && a.protocol != "https") {
      diags->Error(path + ".protocol",
                   absl::StrCat("expected \"http\" or \"https\", found \"", a.protocol, "\""));
    }
    CheckUser(path + ".user", a.user, diags);
  }
}

void ValidateTrustd(const TrustdConfig& t, Diagnostics* diags) {
  const StrictPolicyConfig& p = t.policy;
  struct Relaxation {
    bool on;
    const char* key;
    const char* what;
  };
  for (const Relaxation& r :
       {Relaxation{p.allow_sha1_signatures, "allow_sha1_signatures", "SHA-1 signatures"},
        Relaxation{p.allow_missing_eku, "allow_missing_eku",
                   "certificates without extendedKeyUsage"},
        Relaxation{p.allow_missing_san, "allow_missing_san",
                   "certificates without subjectAltName (matched on CN)"},
        Relaxation{p.allow_weak_keys, "allow_weak_keys", "RSA keys under 2048 bits and DSA keys"},
        Relaxation{p.allow_v1_ca, "allow_v1_ca", "X.509 v1 and v2 certificates"},
        Relaxation{p.allow_invalid_serial, "allow_invalid_serial",
                   "zero, negative and over-long serial numbers"},
        Relaxation{p.ignore_leaf_name_constraints, "ignore_leaf_name_constraints",
                   "wildcard names outside a CA's name constraints"}}) {
    if (r.on) {
      diags->Warning(absl::StrCat("trustd.policy.", r.key),
                     absl::StrCat("relaxes the strict certificate policy: ", r.what,
                                  " are accepted"));
    }
  }
  for (size_t i = 0; i < t.callers.size(); ++i) {
    const CallerConfig& caller = t.callers[i];
    if (!caller.uid && !caller.gid && caller.user.empty() && caller.group.empty()) {
      diags->Error(absl::StrCat("trustd.callers[", i, "]"),
                   "expected uid, gid, user or group to identify the caller, found none");
    }
  }
}

void ValidateRestd(const RestdConfig& r, Diagnostics* diags) {
  const std::string& client_certs = r.client_certificates;
  if (client_certs != "none" && client_certs != "optional" && client_certs != "require") {
    diags->Error("restd.client_certificates",
                 absl::StrCat("expected \"none\", \"optional\" or \"require\", found \"",
                              client_certs, "\""));
  }
}

// The level names are EMS's (log.h). EMS documents publish_level's default as the text
// "logger:level" (the same as level); written out, it means that here too.
void ValidateLogger(const Logger& l, Diagnostics* diags) {
  if (absl::Status s = ParseLogLevel(l.level).status(); !s.ok()) {
    diags->Error("logger.level", std::string(s.message()));
  }
  if (!l.publish_level_follows_level()) {
    if (absl::Status s = ParseLogLevel(l.publish_level).status(); !s.ok()) {
      diags->Error("logger.publish_level",
                   absl::StrCat(s.message(), " (or \"logger:level\": the same as logger.level)"));
    }
  }
}

// Across groups: what one group needs of another.

// A name an ACME CA can issue for with http-01 or tls-alpn-01: a DNS name of LDH labels
// (RFC 1123 section 2.1, RFC 5890) or an IP address (RFC 8738). Wildcards need dns-01
// (RFC 8555 section 7.1.3), which trustd does not answer.
std::string AcmeNameProblem(const std::string& name) {
  if (name.empty()) return "expected a DNS name or an IP address, found an empty string";
  if (IsIpAddress(name)) return "";
  if (name[0] == '*') {
    return absl::StrCat("\"", name.substr(0, 64), "\" is a wildcard; a wildcard needs the dns-01 "
                        "challenge, which trustd does not answer: list each name");
  }
  if (name.size() > 253) return "expected a DNS name of at most 253 characters";
  for (absl::string_view label : absl::StrSplit(name, '.')) {
    bool ldh = !label.empty() && label.size() <= 63 && label.front() != '-' &&
               label.back() != '-' &&
               std::all_of(label.begin(), label.end(), [](char ch) {
                 return absl::ascii_isalnum(static_cast<unsigned char>(ch)) || ch == '-';
               });
    if (!ldh) {
      return absl::StrCat("expected a DNS name (labels of letters, digits and '-', 1 to 63 "
                          "characters) or an IP address, found \"", absl::CEscape(name.substr(0, 64)),
                          "\"");
    }
  }
  return "";
}

// The names trustd asks for: the configured ones, and for rest_server the address restd
// is reached at unless it is a wildcard address or localhost (no CA issues those).
void ValidateAcme(const Config& c, Diagnostics* diags) {
  const AcmeConfig& a = c.trustd.acme;
  if (!a.enabled()) {
    for (const char* role : {"rest_server", "platform_client"}) {
      if (a.identity(role).managed) {
        diags->Error(absl::StrCat("trustd.acme.", role),
                     "expected trustd.acme.directory_url (the ACME CA) for trustd to obtain "
                     "this identity, found none");
      }
    }
    return;
  }
  if (!absl::StartsWith(a.directory_url, "https://")) {
    diags->Error("trustd.acme.directory_url",
                 absl::StrCat("expected an https:// URL of the CA's ACME directory, found \"",
                              absl::CEscape(a.directory_url.substr(0, 128)), "\""));
  }
  if (a.ca_certificates.empty()) {
    diags->Error("trustd.acme.ca_certificates",
                 "expected the CA certificate file(s) that validate the ACME server's TLS "
                 "certificate, found none");
  }
  if (a.challenge != "http-01" && a.challenge != "tls-alpn-01") {
    diags->Error("trustd.acme.challenge",
                 absl::StrCat("expected \"http-01\" or \"tls-alpn-01\", found \"",
                              absl::CEscape(a.challenge.substr(0, 64)), "\""));
  }
  const std::string& listen = a.challenge == "tls-alpn-01" ? a.tls_alpn01_address
                                                           : a.http01_address;
  const char* listen_key = a.challenge == "tls-alpn-01" ? "tls_alpn01_address" : "http01_address";
  if (auto hp = ParseListenAddress(listen, absl::StrCat("trustd.acme.", listen_key)); !hp.ok()) {
    diags->Error(absl::StrCat("trustd.acme.", listen_key),
                 std::string(absl::StripPrefix(hp.status().message(),
                                               absl::StrCat("trustd.acme.", listen_key, ": "))));
  }
  if (a.eab_key_id.empty() != a.eab_hmac_key.empty()) {
    diags->Error(a.eab_key_id.empty() ? "trustd.acme.external_account_binding.key_id"
                                      : "trustd.acme.external_account_binding.hmac_key",
                 "expected key_id and hmac_key together (the CA hands out both), found one");
  }
  if (a.max_retry_interval < a.retry_interval) {
    diags->Error("trustd.acme.max_retry_interval",
                 absl::StrCat("expected at least retry_interval (", a.retry_interval,
                              "), found ", a.max_retry_interval));
  }
  if (!a.rest_server.managed && !a.platform_client.managed) {
    diags->Error("trustd.acme", "expected rest_server or platform_client (the identities trustd "
                                "obtains from the CA), found neither");
  }
  for (const char* role : {"rest_server", "platform_client"}) {
    const AcmeIdentityConfig& id = a.identity(role);
    if (!id.managed) continue;
    std::string field = absl::StrCat("trustd.acme.", role);
    if (id.key_type != "ec-p256" && id.key_type != "rsa-2048") {
      diags->Error(absl::StrCat(field, ".key_type"),
                   absl::StrCat("expected \"ec-p256\" or \"rsa-2048\", found \"",
                                absl::CEscape(id.key_type.substr(0, 64)), "\""));
    }
    for (size_t i = 0; i < id.names.size(); ++i) {
      std::string problem = AcmeNameProblem(id.names[i]);
      if (!problem.empty()) diags->Error(absl::StrCat(field, ".names[", i, "]"), problem);
    }
    if (AcmeNames(c, std::string(role) == "rest_server").empty()) {
      diags->Error(absl::StrCat(field, ".names"),
                   std::string(role) == "rest_server"
                       ? "expected the names restd is reached at (http_server.host is a "
                         "wildcard address or localhost, which no CA issues for), found none"
                       : "expected the names the client certificate carries, found none");
    }
  }
}

// EMS writes the verbose message log at TRACE only.
// file.virtual_dirs: names a wire path can carry as its first component, absolute paths
// (EMS requires them; the vendor's SDK would silently anchor a relative one at /), one
// directory per name for each Thing (shared/specs/alwayson-file-transfer.md section 5.1).
void ValidateFile(const FileTransfer& f, Diagnostics* diags) {
  std::map<std::string, size_t> for_all;                    // name -> index
  std::map<std::pair<std::string, std::string>, size_t> per_thing;  // (thing, name) -> index
  for (size_t i = 0; i < f.virtual_dirs.size(); ++i) {
    const VirtualDir& d = f.virtual_dirs[i];
    std::string field = absl::StrCat("file.virtual_dirs[", i, "]");
    if (d.name.empty()) continue;  // Reported while loading.
    bool control = std::any_of(d.name.begin(), d.name.end(),
                               [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
    if (d.name == "*") {
      diags->Error(field, "expected a directory name, found \"*\" (the vendor SDK's wildcard "
                          "directory is not supported: name each directory)");
      continue;
    }
    if (d.name == "." || d.name == ".." || d.name == "__staging__" ||
        d.name.find_first_of("/\\:") != std::string::npos || control || d.name.size() > 255) {
      diags->Error(field, absl::StrCat("expected a directory name (no /, \\, :, control "
                                       "characters; not \".\", \"..\" or \"__staging__\"), found \"",
                                       absl::CHexEscape(d.name.substr(0, 64)), "\""));
      continue;
    }
    if (!d.path.empty() && d.path[0] != '/') {
      diags->Error(absl::StrCat(field, d.things.empty() ? "" : ".path"),
                   absl::StrCat("expected an absolute path (EMS requires one), found \"",
                                absl::CHexEscape(d.path.substr(0, 200)), "\""));
    }
    auto clash = [&](size_t other) {
      diags->Error(field, absl::StrCat("the directory \"", d.name, "\" is already given by "
                                       "file.virtual_dirs[", other, "]"));
    };
    if (d.things.empty()) {
      if (auto it = for_all.find(d.name); it != for_all.end()) {
        clash(it->second);
        continue;
      }
      for_all[d.name] = i;
    }
    for (size_t t = 0; t < d.things.size(); ++t) {
      if (d.things[t].empty()) {
        diags->Error(absl::StrCat(field, ".things[", t, "]"), "expected a Thing name");
        continue;
      }
      auto key = std::make_pair(d.things[t], d.name);
      if (auto it = per_thing.find(key); it != per_thing.end()) {
        clash(it->second);
        continue;
      }
      if (auto it = for_all.find(d.name); it != for_all.end()) {
        clash(it->second);
        continue;
      }
      per_thing[key] = i;
    }
  }
  if (f.enabled() && f.staging_dir.empty()) {
    diags->Error("file.staging_dir", "expected a local directory (or a virtual directory's "
                                     "name), found an empty string");
  }
  if (f.enabled() && f.max_file_size == 0) {
    diags->Warning("file.max_file_size", "0: every file from the platform is refused");
  }
}

void ValidateVerbose(const Config& c, Diagnostics* diags) {
  if (!c.ws_connection.verbose) return;
  auto trace = [](const std::string& name) {
    absl::StatusOr<LogLevel> level = ParseLogLevel(name);
    return level.ok() && *level == LogLevel::kTrace;
  };
  bool file = !c.logger.publish_directory.empty() &&
              !c.logger.publish_level_follows_level() && trace(c.logger.publish_level);
  if (!trace(c.logger.level) && !file) {
    diags->Warning("ws_connection.verbose",
                   "each AlwaysOn message is logged at TRACE, but logger.level is not TRACE "
                   "(nor a publish_level with a publish_directory): nothing is written unless "
                   "edged runs with --log-level TRACE");
  }
}

void ValidateTrustAnchorsForPeers(const Config& c, Diagnostics* diags) {
  const Certificates& certs = c.certificates;
  bool any_https = false;
  for (const AutoBind& a : c.auto_bind) any_https = any_https || a.protocol == "https";
  if (certs.validate && certs.cert_chain.empty() && c.ws_connection.encryption == "ssl") {
    diags->Error("certificates.cert_chain",
                 "expected the CA certificate file(s) that validate the platform, found none");
  }
  if (certs.validate && any_https && certs.cert_chain.empty() &&
      certs.http_client_ca_certs.empty()) {
    diags->Error("certificates.http_client_ca_certs",
                 "expected CA certificate file(s) for the https auto_bind endpoints "
                 "(or certificates.cert_chain), found none");
  }
}

// The files the configuration names: present, readable, keys not readable by others. The
// master key is not one of them: it is trustd's own, checked with what trustd does at start
// (services/startup).
void ValidateFiles(const Config& c, Diagnostics* diags) {
  const HttpServer& http = c.http_server;
  const Certificates& certs = c.certificates;
  CheckReadable("http_server.certificate", http.certificate, diags);
  CheckPrivateKeyFile("http_server.private_key", http.private_key, diags);
  for (size_t i = 0; i < certs.cert_chain.size(); ++i) {
    CheckReadable(certs.cert_chain.size() == 1 ? "certificates.cert_chain"
                                               : absl::StrCat("certificates.cert_chain[", i, "]"),
                  certs.cert_chain[i], diags);
  }
  CheckReadable("certificates.client_cert", certs.client_cert, diags);
  CheckPrivateKeyFile("certificates.key_file", certs.key_file, diags);
  for (size_t i = 0; i < certs.http_client_ca_certs.size(); ++i) {
    CheckReadable(certs.http_client_ca_certs.size() == 1
                      ? "certificates.http_client_ca_certs"
                      : absl::StrCat("certificates.http_client_ca_certs[", i, "]"),
                  certs.http_client_ca_certs[i], diags);
  }
  const std::vector<std::string>& acme_cas = c.trustd.acme.ca_certificates;
  for (size_t i = 0; i < acme_cas.size(); ++i) {
    CheckReadable(absl::StrCat("trustd.acme.ca_certificates[", i, "]"), acme_cas[i], diags);
  }
  for (const auto& [store, files] : c.trustd.crl_files) {
    for (size_t i = 0; i < files.size(); ++i) {
      CheckReadable(absl::StrCat("trustd.crl_files.", store, "[", i, "]"), files[i], diags);
    }
  }
}

}  // namespace

std::vector<std::string> AcmeNames(const Config& c, bool rest_server) {
  const AcmeIdentityConfig& id =
      c.trustd.acme.identity(rest_server ? "rest_server" : "platform_client");
  std::vector<std::string> names;
  auto add = [&names](const std::string& name) {
    std::string lower = absl::AsciiStrToLower(name);
    if (std::find(names.begin(), names.end(), lower) == names.end()) names.push_back(lower);
  };
  const std::string& host = c.http_server.host;
  if (rest_server && !host.empty() && host != "0.0.0.0" && host != "::" && host != "[::]" &&
      absl::AsciiStrToLower(host) != "localhost") {
    add(host);
  }
  for (const std::string& name : id.names) add(name);
  return names;
}

void ValidateConfig(const Config& c, Diagnostics* diags, bool check_files) {
  ValidateWsServers(c, diags);
  ValidateRestd(c.restd, diags);
  ValidateWsConnection(c.ws_connection, diags);
  ValidateHttpServer(c.http_server, c.trustd.acme.enabled() && c.trustd.acme.rest_server.managed,
                     diags);
  ValidateAcme(c, diags);
  ValidateCertificates(c.certificates, diags);
  ValidateTrustAnchorsForPeers(c, diags);
  ValidateAutoBind(c.auto_bind, diags);
  ValidateTrustd(c.trustd, diags);
  ValidateLogger(c.logger, diags);
  ValidateFile(c.file, diags);
  ValidateVerbose(c, diags);
  if (check_files) ValidateFiles(c, diags);
}

}  // namespace edge::config
