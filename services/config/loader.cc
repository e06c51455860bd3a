#include "services/config/loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <functional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "services/common/file_util.h"
#include "services/common/rotating_log_file.h"
#include "services/common/fingerprint.h"
#include "services/config/validate.h"

namespace edge::config {
namespace {

std::string Join(const std::string& parent, absl::string_view key) {
  return parent.empty() ? std::string(key) : absl::StrCat(parent, ".", key);
}

std::string Index(const std::string& parent, size_t i) { return absl::StrCat(parent, "[", i, "]"); }

// How a node looks, for "found ..." in messages. Scalars are quoted and cut short.
std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return "an object";
    case YAML::NodeType::Sequence: return "an array";
    case YAML::NodeType::Null: return "null";
    case YAML::NodeType::Undefined: return "nothing";
    case YAML::NodeType::Scalar: {
      std::string s = node.Scalar();
      if (s.size() > 40) s = s.substr(0, 40) + "...";
      return absl::StrCat("\"", absl::CHexEscape(s), "\"");
    }
  }
  return "something else";
}

size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t prev = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cur = row[j];
      size_t cost = absl::ascii_tolower(a[i - 1]) == absl::ascii_tolower(b[j - 1]) ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, prev + cost});
      prev = cur;
    }
  }
  return row[b.size()];
}

// EMS groups this stack does not implement, and what the daemons do instead. A group that
// gets implemented is read by ParseRoot and so never reaches this table.
const char* EmsFeatureNotImplemented(absl::string_view path) {
  static const std::pair<const char*, const char*> kGroups[] = {
      {"tunnel", "EMS tunnels (remote sessions through the platform) are not implemented; "
                 "the group is ignored"},
      {"logger.audit_target", "a separate audit destination (file:// or http://) is not "
                              "implemented; AUDIT lines are written to the log like the others"},
  };
  for (const auto& [group, why] : kGroups) {
    if (path == group) return why;
  }
  return nullptr;
}

// One object of the file: typed accessors for its known keys, each with its default
// already in place; Finish() reports the keys nobody asked for as not supported.
class Group {
 public:
  Group(const YAML::Node& node, std::string path, Diagnostics* diags)
      : node_(node), path_(std::move(path)), diags_(diags) {}

  const std::string& path() const { return path_; }
  Diagnostics* diags() const { return diags_; }

  // The node for `key` when present and not null; records `key` as known.
  std::optional<YAML::Node> Get(absl::string_view key) {
    known_.insert(std::string(key));
    if (!node_.IsMap()) return std::nullopt;
    YAML::Node child = node_[std::string(key)];
    if (!child.IsDefined() || child.IsNull()) return std::nullopt;
    return child;
  }

  void String(absl::string_view key, std::string* out) {
    auto n = Get(key);
    if (!n) return;
    if (!n->IsScalar()) return Expected(key, "a string", Describe(*n));
    *out = n->Scalar();
  }

  void OptionalString(absl::string_view key, std::optional<std::string>* out) {
    auto n = Get(key);
    if (!n) return;
    if (!n->IsScalar()) return Expected(key, "a string", Describe(*n));
    *out = n->Scalar();
  }

  // A secret: never quoted in messages; plaintext gets a warning.
  void SecretValue(absl::string_view key, Secret* out) {
    auto n = Get(key);
    if (!n) return;
    if (!n->IsScalar()) return Expected(key, "a string", "a value that is not a string");
    out->value = n->Scalar();
    if (!out->value.empty() && !out->sealed()) {
      diags_->Warning(Join(path_, key),
                      "secret given in plaintext; seal it with `trustctl encrypt -` (the "
                      "secret on standard input) and paste the AES:... value here");
    }
  }

  void Bool(absl::string_view key, bool* out) {
    auto n = Get(key);
    if (!n) return;
    std::string s = n->IsScalar() ? absl::AsciiStrToLower(n->Scalar()) : "";
    if (s == "true") {
      *out = true;
    } else if (s == "false") {
      *out = false;
    } else {
      Expected(key, "true or false", Describe(*n));
    }
  }

  void Int(absl::string_view key, int64_t* out, int64_t min, int64_t max,
           absl::string_view what = "") {
    auto n = Get(key);
    if (!n) return;
    int64_t v;
    if (!n->IsScalar() || !absl::SimpleAtoi(n->Scalar(), &v)) {
      return Expected(key, "an integer", Describe(*n));
    }
    if (v < min || v > max) {
      std::string range = max == INT64_MAX ? absl::StrCat("at least ", min)
                                           : absl::StrCat("from ", min, " to ", max);
      return Expected(key, absl::StrCat(what.empty() ? "an integer " : what, range),
                      absl::StrCat(v));
    }
    *out = v;
  }

  void Port(absl::string_view key, int* out) {
    int64_t v = *out;
    Int(key, &v, 1, 65535, "a port number ");
    *out = static_cast<int>(v);
  }

  // A duration in milliseconds: not negative.
  void Millis(absl::string_view key, int64_t* out) { Int(key, out, 0, INT64_MAX, "milliseconds, "); }

  // A string or an array of strings (EMS writes cert_chain both ways).
  void StringList(absl::string_view key, std::vector<std::string>* out) {
    auto n = Get(key);
    if (!n) return;
    if (n->IsScalar()) {
      *out = {n->Scalar()};
      return;
    }
    if (!n->IsSequence()) return Expected(key, "a string or an array of strings", Describe(*n));
    out->clear();
    for (size_t i = 0; i < n->size(); ++i) {
      const YAML::Node& item = (*n)[i];
      if (!item.IsScalar()) {
        diags_->Error(Index(Join(path_, key), i),
                      absl::StrCat("expected a string, found ", Describe(item)));
        continue;
      }
      out->push_back(item.Scalar());
    }
  }

  // An object child: `fn` fills it from a Group of its own.
  void Object(absl::string_view key, const std::function<void(Group&)>& fn) {
    auto n = Get(key);
    YAML::Node child = n ? *n : YAML::Node(YAML::NodeType::Map);
    if (n && !n->IsMap()) return Expected(key, "an object", Describe(*n));
    Group g(child, Join(path_, key), diags_);
    fn(g);
    g.Finish();
  }

  void Expected(absl::string_view key, absl::string_view expected, absl::string_view found) {
    diags_->Error(Join(path_, key), absl::StrCat("expected ", expected, ", found ", found));
  }

  // Marks a key as known without reading it (handled elsewhere).
  void Known(absl::string_view key) { known_.insert(std::string(key)); }

  void Finish() {
    if (!node_.IsMap()) return;
    for (const auto& kv : node_) {
      std::string key = kv.first.Scalar();
      if (known_.count(key) > 0) continue;
      std::string best;
      size_t best_distance = 3;
      for (const std::string& k : known_) {
        size_t d = EditDistance(key, k);
        if (d < best_distance) {
          best = k;
          best_distance = d;
        }
      }
      std::string path = Join(path_, key);
      if (const char* why = EmsFeatureNotImplemented(path)) {
        diags_->Unsupported(path, why);
        continue;
      }
      diags_->Unsupported(
          path, absl::StrCat("an unknown key, ignored",
                             best.empty() ? "" : absl::StrCat("; did you mean \"", best, "\"?")));
    }
  }

 private:
  YAML::Node node_;
  std::string path_;
  Diagnostics* diags_;
  std::set<std::string> known_;
};

void ParseWsConnection(Group& g, WsConnection* c) {
  g.String("encryption", &c->encryption);
  g.Bool("verbose", &c->verbose);
  g.Millis("msg_timeout", &c->msg_timeout);
  g.Millis("ping_rate", &c->ping_rate);
  g.Millis("pingpong_timeout", &c->pingpong_timeout);
  g.Millis("message_idle_time", &c->message_idle_time);
  g.Int("max_msg_size", &c->max_msg_size, 1024, 256 * 1024 * 1024, "bytes, ");
  // The chunk header carries the chunk size in 2 bytes (shared/specs/alwayson-protocol.md).
  g.Int("message_chunk_size", &c->message_chunk_size, 64, 65535, "bytes, ");
  g.Int("max_messages", &c->max_messages, 1, INT64_MAX);
  g.Millis("connect_timeout", &c->connect_timeout);
  g.Millis("connect_retry_interval", &c->connect_retry_interval);
  g.Millis("max_connect_delay", &c->max_connect_delay);
  g.Int("connect_retries", &c->connect_retries, -1, INT64_MAX, "-1 (forever) or a count, ");
  g.Bool("compression", &c->compression);
}

void ParseHttpServer(Group& g, HttpServer* h) {
  g.String("host", &h->host);
  g.Port("port", &h->port);
  g.Bool("ssl", &h->ssl);
  g.String("certificate", &h->certificate);
  g.String("private_key", &h->private_key);
  g.SecretValue("passphrase", &h->passphrase);
  g.Bool("authenticate", &h->authenticate);
  g.String("user", &h->user);
  g.SecretValue("password", &h->password);
  g.Millis("content_read_timeout", &h->content_read_timeout);
  g.Int("max_clients", &h->max_clients, 1, 100000);
  g.Bool("enable_csrf_tokens", &h->enable_csrf_tokens);
  g.Int("csrf_token_rotation_period", &h->csrf_token_rotation_period, 1, INT64_MAX);
}

void ParseFingerprints(Group& g, absl::string_view key, std::vector<std::string>* out,
                       bool* present) {
  auto n = g.Get(key);
  if (!n) return;
  std::string path = Join(g.path(), key);
  if (!n->IsSequence()) {
    g.Expected(key, "an array of SHA-256 fingerprints", Describe(*n));
    return;
  }
  if (present != nullptr) {
    *present = true;
    // Here, where the list as written is known: a list whose entries are all wrong is not
    // also "empty" (one bad fingerprint is one error).
    if (n->size() == 0) {
      g.diags()->Error(path, "expected at least one SHA-256 fingerprint, found an empty list; "
                             "remove the key, or add fingerprints (`trustctl fingerprint "
                             "ENDPOINT.pem` prints them)");
    }
  }
  for (size_t i = 0; i < n->size(); ++i) {
    const YAML::Node& item = (*n)[i];
    if (!item.IsScalar()) {
      g.diags()->Error(Index(path, i),
                       absl::StrCat("expected a SHA-256 fingerprint, found ", Describe(item)));
      continue;
    }
    absl::StatusOr<std::string> hex = ParseSha256Fingerprint(item.Scalar(), Describe(item));
    if (!hex.ok()) {
      g.diags()->Error(Index(path, i), std::string(hex.status().message()));
      continue;
    }
    out->push_back(*std::move(hex));
  }
}

// Each object of the array at `key` filled by `fn` from a Group of its own (the array's
// index in its path); an item that is not an object is an error naming it. `what` says what
// the array holds, for "expected an array of ...".
void ObjectList(Group& g, absl::string_view key, absl::string_view what,
                absl::string_view item_shape, const std::function<void(Group&)>& fn) {
  auto n = g.Get(key);
  if (!n) return;
  std::string path = Join(g.path(), key);
  if (!n->IsSequence()) return g.Expected(key, absl::StrCat("an array of ", what), Describe(*n));
  for (size_t i = 0; i < n->size(); ++i) {
    const YAML::Node& item = (*n)[i];
    if (!item.IsMap()) {
      g.diags()->Error(Index(path, i),
                       absl::StrCat("expected an object", item_shape, ", found ", Describe(item)));
      continue;
    }
    Group child(item, Index(path, i), g.diags());
    fn(child);
    child.Finish();
  }
}

void ParseCertificates(Group& g, Certificates* c) {
  g.Bool("validate", &c->validate);
  g.Bool("allow_self_signed", &c->allow_self_signed);
  g.Bool("disable_hostname_validation", &c->disable_hostname_validation);
  g.StringList("cert_chain", &c->cert_chain);
  g.String("client_cert", &c->client_cert);
  g.String("key_file", &c->key_file);
  g.SecretValue("key_passphrase", &c->key_passphrase);
  g.String("cipher_suite", &c->cipher_suite);
  g.StringList("http_client_ca_certs", &c->http_client_ca_certs);
  g.Object("validation_criteria", [c](Group& v) {
    ValidationCriteria& vc = c->validation_criteria;
    v.OptionalString("Cert_Common_Name", &vc.cert_common_name);
    v.OptionalString("Cert_Organization", &vc.cert_organization);
    v.OptionalString("Cert_Organizational_Name", &vc.cert_organizational_name);
    v.OptionalString("CA_Cert_Common_Name", &vc.ca_cert_common_name);
    v.OptionalString("CA_Cert_Organization", &vc.ca_cert_organization);
    v.OptionalString("CA_Cert_Organizational_Name", &vc.ca_cert_organizational_name);
  });
  ParseFingerprints(g, "fingerprint_allowlist", &c->fingerprint_allowlist,
                    &c->has_fingerprint_allowlist);
  if (g.Get("fingerprint_whitelist")) {
    g.diags()->Error(Join(g.path(), "fingerprint_whitelist"),
                     "this key was renamed: expected \"fingerprint_allowlist\", found "
                     "\"fingerprint_whitelist\"");
  }
}

void ParseAutoBind(Group& g, AutoBind* a) {
  g.String("name", &a->name);
  g.String("host", &a->host);
  g.Port("port", &a->port);
  g.String("path", &a->path);
  g.Millis("timeout", &a->timeout);
  g.String("protocol", &a->protocol);
  g.String("user", &a->user);
  g.SecretValue("password", &a->password);
  g.Bool("gateway", &a->gateway);
}

void ParseMetrics(Group& g, MetricsConfig* out) {
  g.Object("metrics", [out](Group& m) {
    m.String("address", &out->address);
    m.Bool("allow_public", &out->allow_public);
  });
}

void ParseCallers(Group& g, std::vector<CallerConfig>* out) {
  ObjectList(g, "callers", "callers", "", [out](Group& c) {
    CallerConfig caller;
    c.String("name", &caller.name);
    int64_t id = -1;
    c.Int("uid", &id, 0, UINT32_MAX - 1);
    if (id >= 0) caller.uid = id;
    id = -1;
    c.Int("gid", &id, 0, UINT32_MAX - 1);
    if (id >= 0) caller.gid = id;
    c.String("user", &caller.user);
    c.String("group", &caller.group);
    c.StringList("methods", &caller.methods);
    c.StringList("roles", &caller.roles);
    c.StringList("secrets", &caller.secrets);
    out->push_back(std::move(caller));
  });
}

void ParseSocketMode(Group& g, int* mode) {
  auto n = g.Get("socket_mode");
  if (!n) return;
  int64_t v = 0;
  std::string s = n->IsScalar() ? n->Scalar() : "";
  bool ok = !s.empty() && s.size() <= 4 && s.find_first_not_of("01234567") == std::string::npos;
  if (ok) {
    for (char c : s) v = v * 8 + (c - '0');
  }
  if (!ok || v > 0777) {
    return g.Expected("socket_mode", "an octal permission mode such as \"0660\"", Describe(*n));
  }
  *mode = static_cast<int>(v);
}

void ParseAcmeIdentity(Group& g, absl::string_view key, AcmeIdentityConfig* out) {
  if (!g.Get(key)) {
    g.Known(key);
    return;
  }
  out->managed = true;
  g.Object(key, [out](Group& i) {
    i.StringList("names", &out->names);
    i.String("key_type", &out->key_type);
  });
}

void ParseAcme(Group& g, AcmeConfig* a) {
  g.String("directory_url", &a->directory_url);
  g.StringList("contact", &a->contact);
  g.StringList("ca_certificates", &a->ca_certificates);
  g.Object("external_account_binding", [a](Group& e) {
    e.String("key_id", &a->eab_key_id);
    e.SecretValue("hmac_key", &a->eab_hmac_key);
  });
  g.String("state_directory", &a->state_directory);
  if (auto n = g.Get("renew_when_remaining")) {
    double v = 0;
    if (!n->IsScalar() || !absl::SimpleAtod(n->Scalar(), &v) || !(v > 0 && v < 1)) {
      g.Expected("renew_when_remaining",
                 "a fraction of the certificate's lifetime between 0 and 1, such as 0.33",
                 Describe(*n));
    } else {
      a->renew_when_remaining = v;
    }
  }
  g.String("challenge", &a->challenge);
  g.String("http01_address", &a->http01_address);
  g.String("tls_alpn01_address", &a->tls_alpn01_address);
  g.Int("retry_interval", &a->retry_interval, 1000, INT64_MAX, "milliseconds, ");
  g.Int("max_retry_interval", &a->max_retry_interval, 1000, INT64_MAX, "milliseconds, ");
  g.Int("request_timeout", &a->request_timeout, 1000, INT64_MAX, "milliseconds, ");
  ParseAcmeIdentity(g, "rest_server", &a->rest_server);
  ParseAcmeIdentity(g, "platform_client", &a->platform_client);
}

void ParseTrustd(Group& g, TrustdConfig* t) {
  g.Object("acme", [t](Group& a) { ParseAcme(a, &t->acme); });
  g.String("socket", &t->socket);
  ParseSocketMode(g, &t->socket_mode);
  g.String("master_key_file", &t->master_key_file);
  g.Int("expiry_warning_days", &t->expiry_warning_days, 0, 3650);
  ParseMetrics(g, &t->metrics);
  g.Object("pins", [t](Group& p) {
    for (const char* purpose : {"platform", "edge", "client"}) {
      std::vector<std::string> pins;
      ParseFingerprints(p, purpose, &pins, nullptr);
      if (!pins.empty()) t->pins[purpose] = pins;
    }
  });
  g.Object("crl_files", [t](Group& c) {
    for (const char* store : {"cert_chain", "http_client_ca_certs"}) {
      std::vector<std::string> files;
      c.StringList(store, &files);
      if (!files.empty()) t->crl_files[store] = files;
    }
  });
  g.Object("policy", [t](Group& p) {
    StrictPolicyConfig& s = t->policy;
    p.Bool("allow_sha1_signatures", &s.allow_sha1_signatures);
    p.Bool("allow_missing_eku", &s.allow_missing_eku);
    p.Bool("allow_missing_san", &s.allow_missing_san);
    p.Bool("allow_weak_keys", &s.allow_weak_keys);
    p.Bool("allow_v1_ca", &s.allow_v1_ca);
    p.Bool("allow_invalid_serial", &s.allow_invalid_serial);
    p.Bool("ignore_leaf_name_constraints", &s.ignore_leaf_name_constraints);
  });
  ParseCallers(g, &t->callers);
}

// EMS's `logger` (log.h says what the levels mean; validate.cc checks their names).
void ParseLogger(Group& g, Logger* l) {
  g.String("level", &l->level);
  g.String("publish_directory", &l->publish_directory);
  g.String("publish_level", &l->publish_level);
  g.Int("max_file_storage", &l->max_file_storage, RotatingLogFile::kMinTotalBytes, INT64_MAX,
        "bytes, ");
  g.Bool("auto_flush", &l->auto_flush);
  // EMS's buffer sizes: each line is written whole with one write(2), so there is nothing
  // to size; read (and checked) so that an EMS file is taken as it is.
  int64_t unused = 0;
  g.Int("flush_chunk_size", &unused, 1, INT64_MAX, "bytes, ");
  g.Int("buffer_size", &unused, 1, INT64_MAX, "bytes, ");
}

// One entry of file.virtual_dirs: EMS's one-key object {"in": "/opt/in"} (for every Thing),
// or ours {"name": "in", "path": "/opt/in", "things": ["Pump1"]} (for those Things only).
void ParseVirtualDir(Group& g, const YAML::Node& item, VirtualDir* d) {
  if (item.size() == 1 && !item["name"].IsDefined() && !item["path"].IsDefined()) {
    const auto kv = *item.begin();
    d->name = kv.first.Scalar();
    g.Known(d->name);
    if (!kv.second.IsScalar()) {
      return g.Expected(d->name, "the absolute path of a local directory", Describe(kv.second));
    }
    d->path = kv.second.Scalar();
    return;
  }
  g.String("name", &d->name);
  g.String("path", &d->path);
  g.StringList("things", &d->things);
  if (d->name.empty()) g.diags()->Error(Join(g.path(), "name"), "expected a directory name");
  if (d->path.empty()) g.diags()->Error(Join(g.path(), "path"), "expected a local directory");
}

void ParseFile(Group& g, FileTransfer* f) {
  if (auto n = g.Get("virtual_dirs")) {
    std::string path = Join(g.path(), "virtual_dirs");
    if (!n->IsSequence()) {
      g.Expected("virtual_dirs", "an array of {\"NAME\": \"/local/dir\"} objects", Describe(*n));
    } else {
      for (size_t i = 0; i < n->size(); ++i) {
        const YAML::Node& item = (*n)[i];
        if (!item.IsMap() || item.size() == 0) {
          g.diags()->Error(Index(path, i), absl::StrCat("expected an object {\"NAME\": \"/local/"
                                                        "dir\"}, found ", Describe(item)));
          continue;
        }
        Group child(item, Index(path, i), g.diags());
        VirtualDir d;
        ParseVirtualDir(child, item, &d);
        child.Finish();
        f->virtual_dirs.push_back(std::move(d));
      }
    }
  }
  g.String("staging_dir", &f->staging_dir);
  // The block travels in one message: well under the largest ws_connection.max_msg_size.
  g.Int("buffer_size", &f->buffer_size, 1024, 16 * 1024 * 1024, "bytes, ");
  g.Int("max_file_size", &f->max_file_size, 0, INT64_MAX, "bytes, ");
  g.Int("idle_timeout", &f->idle_timeout, 100, INT64_MAX, "milliseconds, ");
}

void ParseRoot(const YAML::Node& root, Diagnostics* diags, Config* c) {
  Group g(root, "", diags);
  ObjectList(g, "ws_servers", "{host, port}", " {host, port}", [c](Group& s) {
    WsServer server;
    s.String("host", &server.host);
    s.Port("port", &server.port);
    c->ws_servers.push_back(server);
  });
  g.SecretValue("appKey", &c->app_key);
  g.Object("ws_connection", [c](Group& s) { ParseWsConnection(s, &c->ws_connection); });
  g.Object("duty_cycle", [c](Group& s) {
    s.Millis("connect_period", &c->duty_cycle.connect_period);
    s.Int("duty_cycle", &c->duty_cycle.duty_cycle, 0, 100, "a percentage ");
    s.Millis("delay_duty_cycle", &c->duty_cycle.delay_duty_cycle);
  });
  g.Object("http_server", [c](Group& s) { ParseHttpServer(s, &c->http_server); });
  g.Object("certificates", [c](Group& s) { ParseCertificates(s, &c->certificates); });
  ObjectList(g, "auto_bind", "Things ([{\"name\": ...}])", "", [c](Group& s) {
    AutoBind a;
    ParseAutoBind(s, &a);
    c->auto_bind.push_back(std::move(a));
  });
  g.Object("proxy", [c](Group& s) {
    s.String("host", &c->proxy.host);
    s.Int("port", &c->proxy.port, 1, 65535);
    s.String("user", &c->proxy.user);
    s.SecretValue("password", &c->proxy.password);
  });
  g.Object("offline_msg_store", [c](Group& s) {
    s.Bool("enabled", &c->offline_msg_store.enabled);
    s.String("directory", &c->offline_msg_store.directory);
    s.Int("max_size", &c->offline_msg_store.max_size, 1, INT64_MAX);
  });
  g.Object("file", [c](Group& s) { ParseFile(s, &c->file); });
  g.Object("logger", [c](Group& s) { ParseLogger(s, &c->logger); });
  g.Object("trustd", [c](Group& s) { ParseTrustd(s, &c->trustd); });
  g.Object("edged", [c](Group& s) {
    s.String("socket", &c->edged.socket);
    ParseSocketMode(s, &c->edged.socket_mode);
    s.Bool("offline_store_fsync", &c->edged.offline_store_fsync);
    s.Int("max_reconnect_delay", &c->edged.max_reconnect_delay, 100, 24 * 3600 * 1000,
          "milliseconds, ");
    s.Int("max_calls_in_flight", &c->edged.max_calls_in_flight, 1, 1000000, "calls, ");
    s.Int("file_max_transfers", &c->edged.file_max_transfers, 1, 10000, "transfers, ");
    s.Int("file_max_transfers_per_thing", &c->edged.file_max_transfers_per_thing, 1, 10000,
          "transfers, ");
    s.Int("file_max_staging_bytes", &c->edged.file_max_staging_bytes, 0, INT64_MAX, "bytes, ");
    ParseMetrics(s, &c->edged.metrics);
    ParseCallers(s, &c->edged.callers);
  });
  g.Object("restd", [c](Group& s) {
    s.Int("max_body_bytes", &c->restd.max_body_bytes, 1024, INT64_MAX, "bytes, ");
    s.Millis("keepalive_timeout", &c->restd.keepalive_timeout);
    s.Int("handshake_timeout", &c->restd.handshake_timeout, 1, INT64_MAX, "milliseconds, ");
    s.Int("header_timeout", &c->restd.header_timeout, 1, INT64_MAX, "milliseconds, ");
    s.Int("max_pending_handshakes", &c->restd.max_pending_handshakes, 1, 100000);
    s.Int("max_connections_per_address", &c->restd.max_connections_per_address, 1, 100000);
    s.Int("io_threads", &c->restd.io_threads, 1, 64, "threads, ");
    s.String("client_certificates", &c->restd.client_certificates);
    s.String("edged_socket", &c->restd.edged_socket);
    s.Millis("health_check_interval", &c->restd.health_check_interval);
    s.String("state_directory", &c->restd.state_directory);
    ParseMetrics(s, &c->restd.metrics);
  });
  g.Finish();
}

void Resolve(const std::string& base, std::string* path) {
  if (path->empty() || (*path)[0] == '/' || base.empty() || base == ".") return;
  *path = absl::StrCat(base, "/", *path);
}

// Relative file paths in the file are relative to the file's own directory.
void ResolvePaths(Config* c) {
  const std::string& b = c->base_dir;
  Resolve(b, &c->http_server.certificate);
  Resolve(b, &c->http_server.private_key);
  for (std::string& p : c->certificates.cert_chain) Resolve(b, &p);
  Resolve(b, &c->certificates.client_cert);
  Resolve(b, &c->certificates.key_file);
  for (std::string& p : c->certificates.http_client_ca_certs) Resolve(b, &p);
  for (auto& [store, files] : c->trustd.crl_files) {
    for (std::string& p : files) Resolve(b, &p);
  }
  Resolve(b, &c->trustd.master_key_file);
  for (std::string& p : c->trustd.acme.ca_certificates) Resolve(b, &p);
  Resolve(b, &c->trustd.acme.state_directory);
  Resolve(b, &c->offline_msg_store.directory);
  // A staging_dir that names a virtual directory is a name, not a path (its path is taken).
  if (c->file.StagingPath() == c->file.staging_dir) Resolve(b, &c->file.staging_dir);
  Resolve(b, &c->logger.publish_directory);
  Resolve(b, &c->restd.state_directory);
}

// Nesting deeper than this is not a configuration; refuse it before yaml-cpp recurses.
constexpr int kMaxDepth = 64;

int MaxBracketDepth(absl::string_view text) {
  int depth = 0, max_depth = 0;
  bool in_string = false;
  char quote = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\' && quote == '"') {
        ++i;
      } else if (c == quote) {
        in_string = false;
      }
      continue;
    }
    if (c == '"' || c == '\'') {
      in_string = true;
      quote = c;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return max_depth;
}

bool LooksLikeJson(absl::string_view text) {
  for (char c : text) {
    if (absl::ascii_isspace(c)) continue;
    return c == '{' || c == '/';
  }
  return false;
}

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

std::string JsonToYaml(absl::string_view json) {
  // yaml-cpp reads JSON as YAML, but not `//` comments, not tabs as white space, and not
  // the UTF-16 surrogate pairs JSON uses for characters beyond the BMP ("\ud83d\ude1c"),
  // which YAML writes as one "\UXXXXXXXX".
  auto hex4 = [&json](size_t at, unsigned* value) {
    if (at + 4 > json.size()) return false;
    *value = 0;
    for (size_t i = at; i < at + 4; ++i) {
      char c = json[i];
      int v = (c >= '0' && c <= '9')   ? c - '0'
              : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                       : -1;
      if (v < 0) return false;
      *value = *value * 16 + static_cast<unsigned>(v);
    }
    return true;
  };
  std::string out;
  out.reserve(json.size());
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (in_string) {
      unsigned hi, lo;
      if (c == '\\' && i + 11 < json.size() && json[i + 1] == 'u' && hex4(i + 2, &hi) &&
          hi >= 0xD800 && hi < 0xDC00 && json[i + 6] == '\\' && json[i + 7] == 'u' &&
          hex4(i + 8, &lo) && lo >= 0xDC00 && lo < 0xE000) {
        absl::StrAppend(&out, "\\U",
                        absl::Hex(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00), absl::kZeroPad8));
        i += 11;
        continue;
      }
      if (c == '\\' && i + 1 < json.size()) {
        out.push_back(c);
        out.push_back(json[++i]);
        continue;
      }
      if (c == '"') in_string = false;
      out.push_back(c);
      continue;
    }
    if (c == '"') {
      in_string = true;
      out.push_back(c);
    } else if (c == '/' && i + 1 < json.size() && json[i + 1] == '/') {
      while (i < json.size() && json[i] != '\n') ++i;  // Up to the end of the line.
      if (i < json.size()) out.push_back('\n');
    } else if (c == '\t') {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::vector<Diagnostic> CheckConfigText(absl::string_view text, absl::string_view source_name,
                                        const std::string& base_dir, Config* config,
                                        bool check_files) {
  Diagnostics diags;
  *config = Config();
  config->source = std::string(source_name);
  config->base_dir = base_dir;
  if (MaxBracketDepth(text) > kMaxDepth) {
    diags.Error("", absl::StrCat(source_name, ": nested more than ", kMaxDepth,
                                 " levels deep; this is not a configuration file"));
    return diags.Take();
  }
  YAML::Node root;
  try {
    root = YAML::Load(LooksLikeJson(text) ? JsonToYaml(text) : std::string(text));
  } catch (const YAML::Exception& e) {
    diags.Error("", absl::StrCat(source_name, ": not valid YAML or JSON at line ", e.mark.line + 1,
                                 ", column ", e.mark.column + 1, ": ", e.msg));
    return diags.Take();
  }
  if (!root.IsMap()) {
    if (root.IsNull() || !root.IsDefined()) {
      diags.Error("", absl::StrCat(source_name, ": expected a configuration object, found an "
                                                "empty file"));
    } else {
      diags.Error("", absl::StrCat(source_name, ": expected a configuration object at the top "
                                                "level, found ", Describe(root)));
    }
    return diags.Take();
  }
  try {
    ParseRoot(root, &diags, config);
  } catch (const YAML::Exception& e) {
    diags.Error("", absl::StrCat(source_name, ": ", e.msg));
    return diags.Take();
  }
  ResolvePaths(config);
  ValidateConfig(*config, &diags, check_files);
  return diags.Take();
}

absl::StatusOr<LoadedConfig> LoadConfigText(absl::string_view text, absl::string_view source_name,
                                            const std::string& base_dir, bool check_files) {
  LoadedConfig loaded;
  std::vector<Diagnostic> all =
      CheckConfigText(text, source_name, base_dir, &loaded.config, check_files);
  bool errors = false;
  std::vector<std::string> lines;
  for (Diagnostic& d : all) {
    lines.push_back(d.ToString());
    if (d.severity == Diagnostic::Severity::kError) {
      errors = true;
    } else {
      loaded.diagnostics.push_back(std::move(d));
    }
  }
  if (errors) return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
  return loaded;
}

absl::StatusOr<LoadedConfig> LoadConfigFile(const std::string& path, bool check_files) {
  auto text = ReadFile(path, 4 * 1024 * 1024);
  if (!text.ok()) {
    return absl::Status(text.status().code(),
                        absl::StrCat("error: cannot read the configuration: ",
                                     text.status().message()));
  }
  return LoadConfigText(*text, path, DirName(path), check_files);
}

}  // namespace edge::config
