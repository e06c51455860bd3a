// The configuration of the edge trust stack: every EMS config.json group (with EMS key
// names, meanings and defaults; see shared/specs/ems-config.md) plus our own groups
// `trustd`, `edged` and `restd`. Produced by LoadConfigFile (loader.h), which applies the
// defaults written here and validates every field.
#ifndef SERVICES_CONFIG_CONFIG_H_
#define SERVICES_CONFIG_CONFIG_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace edge::config {

// A secret-bearing value as written in the file: plaintext, or sealed ("AES:..."). The
// loader never decrypts; trustd does. Never log `value`.
struct Secret {
  std::string value;
  bool empty() const { return value.empty(); }
  bool sealed() const { return value.rfind("AES:", 0) == 0; }
};

struct WsServer {
  std::string host;
  int port = 443;
};

struct WsConnection {
  std::string encryption = "ssl";  // "ssl" or "none".
  bool verbose = false;
  int64_t msg_timeout = 10000;     // Milliseconds, like every duration below.
  int64_t ping_rate = 55000;
  int64_t pingpong_timeout = 10000;
  int64_t message_idle_time = 50000;
  int64_t max_msg_size = 1048576;
  int64_t message_chunk_size = 8192;
  int64_t max_messages = 500;
  int64_t connect_timeout = 10000;
  int64_t connect_retry_interval = 10000;
  int64_t max_connect_delay = 10000;
  int64_t connect_retries = -1;    // -1: forever.
  bool compression = true;
};

struct DutyCycle {
  int64_t connect_period = 60000;  // 0: always connected.
  int64_t duty_cycle = 100;        // Percent of connect_period spent connected.
  int64_t delay_duty_cycle = 60000;
};

struct HttpServer {
  std::string host = "localhost";
  int port = 8000;
  bool ssl = true;                 // EMS ships with SSL on; so do we.
  std::string certificate;         // PEM chain: leaf, intermediates, root.
  std::string private_key;         // PEM, preferably encrypted PKCS#8.
  Secret passphrase;
  bool authenticate = true;
  std::string user;
  Secret password;
  int64_t content_read_timeout = 20000;
  int64_t max_clients = 15;
  bool enable_csrf_tokens = true;
  int64_t csrf_token_rotation_period = 10;
};

// certificates.validation_criteria: certificate fields that must be equal when set.
struct ValidationCriteria {
  std::optional<std::string> cert_common_name;        // Cert_Common_Name
  std::optional<std::string> cert_organization;       // Cert_Organization
  std::optional<std::string> cert_organizational_name;  // Cert_Organizational_Name (OU)
  std::optional<std::string> ca_cert_common_name;
  std::optional<std::string> ca_cert_organization;
  std::optional<std::string> ca_cert_organizational_name;
};

struct Certificates {
  bool validate = true;
  bool allow_self_signed = false;
  bool disable_hostname_validation = false;
  std::vector<std::string> cert_chain;           // CA files (a string or an array in EMS).
  std::string client_cert;                       // Mutual TLS to the platform.
  std::string key_file;
  Secret key_passphrase;
  std::string cipher_suite;                      // OpenSSL cipher string; empty: ours.
  std::vector<std::string> http_client_ca_certs; // Edge HTTPS only; else cert_chain.
  ValidationCriteria validation_criteria;
  // SHA-256 fingerprints, normalized to 64 lower-case hex digits. Present-but-empty is an
  // error, so "absent" is has_fingerprint_allowlist == false.
  std::vector<std::string> fingerprint_allowlist;
  bool has_fingerprint_allowlist = false;
};

struct AutoBind {
  std::string name;
  std::string host = "localhost";
  int port = 8001;
  std::string path = "/";
  int64_t timeout = 30000;
  std::string protocol = "http";  // "http" or "https".
  std::string user;
  Secret password;
  bool gateway = false;
};

// EMS's `proxy` group: edged reaches the platform through this HTTP proxy (CONNECT), with
// Basic or Digest authentication when `user` is set. Off while `host` is empty.
struct Proxy {
  std::string host;
  int64_t port = 3128;
  std::string user;
  Secret password;
};

// One entry of EMS's file.virtual_dirs: a local directory the platform reaches, through the
// file services, as the first component of its paths ("/in/a.txt" -> the directory "in").
struct VirtualDir {
  std::string name;
  std::string path;                 // Absolute.
  std::vector<std::string> things;  // Empty: every Thing edged serves files for.
};

// EMS's `file` group (shared/specs/alwayson-file-transfer.md section 8). File services are
// on when virtual_dirs is not empty.
struct FileTransfer {
  std::vector<VirtualDir> virtual_dirs;
  // Where a file from the platform is staged (as a .part) until it is moved into place: a
  // local path, or the name of one of virtual_dirs (EMS shows both).
  std::string staging_dir = "/var/lib/edge/staging";
  int64_t buffer_size = 128000;           // Bytes per block, advertised as blockSize.
  int64_t max_file_size = 8000000000;     // Enforced here (the SDK only advertises it).
  int64_t idle_timeout = 30000;           // ms; an idle transfer is closed, its .part removed.
  bool enabled() const { return !virtual_dirs.empty(); }
  // staging_dir as a local directory: a virtual directory's path when it names one.
  std::string StagingPath() const {
    for (const VirtualDir& d : virtual_dirs) {
      if (d.name == staging_dir && d.things.empty()) return d.path;
    }
    return staging_dir;
  }
};

struct OfflineMsgStore {
  bool enabled = true;
  std::string directory = "/var/lib/edge/offline";
  int64_t max_size = 65535;  // Kilobytes, as in EMS.
};

// EMS's `logger` group; applied by each daemon at start (services/startup: ApplyLogger).
// The levels are EMS's names (services/common/log.h: FORCE, ERROR, WARN, INFO, DEBUG,
// TRACE, AUDIT, in any case).
struct Logger {
  std::string level = "INFO";      // **ours**: EMS's default is WARN.
  std::string publish_directory;   // Empty: standard error only. Else DIR/<daemon>.log too.
  std::string publish_level;       // Empty: the same as `level` (EMS: "logger:level").
  int64_t max_file_storage = 2000000;  // Bytes, all the files of one daemon together.
  bool auto_flush = false;         // fdatasync after each line written to the file.

  // Empty, or EMS's documented default written out: "logger:level".
  bool publish_level_follows_level() const {
    return publish_level.empty() || publish_level == "logger:level";
  }
};

// trustd.policy: relaxations of the strict web-PKI policy; each logs a warning when used.
struct StrictPolicyConfig {
  bool allow_sha1_signatures = false;
  bool allow_missing_eku = false;
  bool allow_missing_san = false;
  bool allow_weak_keys = false;
  bool allow_v1_ca = false;
  bool allow_invalid_serial = false;
  bool ignore_leaf_name_constraints = false;
};

// trustd.callers[]: who may call which trustd methods (by Unix credentials).
struct CallerConfig {
  std::string name;
  std::optional<int64_t> uid;
  std::optional<int64_t> gid;
  std::string user;   // Resolved to a uid by trustd at start.
  std::string group;  // Resolved to a gid by trustd at start.
  std::vector<std::string> methods;
  std::vector<std::string> roles;    // "rest_server", "platform_client".
  std::vector<std::string> secrets;  // "app_key", "auto_bind/<name>/password", "auto_bind/*".
};

// A daemon's Prometheus endpoint (`<daemon>.metrics`): off unless `address` is set; a
// loopback address unless `allow_public` says otherwise (services/metrics).
struct MetricsConfig {
  std::string address;      // "127.0.0.1:9101", "[::1]:9101", "localhost:9101"; port 0: any.
  bool allow_public = false;
};

// trustd.acme.<role>: one identity trustd obtains and renews from the ACME CA.
struct AcmeIdentityConfig {
  bool managed = false;            // The group is present.
  // Names the certificate must carry (DNS names or IP addresses). For rest_server,
  // http_server.host is added unless it is a wildcard address or "localhost".
  std::vector<std::string> names;
  std::string key_type = "ec-p256";  // "ec-p256" or "rsa-2048".
};

// trustd.acme: certificates obtained and renewed from an ACME CA (RFC 8555). Off while
// directory_url is empty.
struct AcmeConfig {
  std::string directory_url;       // https://ca.example/acme/directory
  std::vector<std::string> contact;  // "mailto:ops@example.com"
  // The ACME server's TLS certificate is judged by the trust engine (purpose "acme")
  // against these anchors; the only anchors that purpose has.
  std::vector<std::string> ca_certificates;
  std::string eab_key_id;          // External Account Binding (RFC 8555 section 7.3.4).
  Secret eab_hmac_key;             // base64url, as the CA hands it out; sealed or plain.
  std::string state_directory = "/var/lib/edge/acme";
  // Renew when this fraction of the certificate's lifetime is left (unless the CA's
  // renewalInfo says otherwise).
  double renew_when_remaining = 1.0 / 3;
  std::string challenge = "http-01";  // "http-01" or "tls-alpn-01".
  std::string http01_address = "0.0.0.0:80";     // Open only while an order is pending.
  std::string tls_alpn01_address = "0.0.0.0:443";
  int64_t retry_interval = 60000;        // First wait after a failed order; doubles.
  int64_t max_retry_interval = 21600000;  // 6 hours.
  int64_t request_timeout = 30000;       // Each HTTPS request to the CA.
  AcmeIdentityConfig rest_server;
  AcmeIdentityConfig platform_client;
  bool enabled() const { return !directory_url.empty(); }
  // "rest_server" or (anything else) "platform_client".
  const AcmeIdentityConfig& identity(const std::string& role) const {
    return role == "rest_server" ? rest_server : platform_client;
  }
};

struct TrustdConfig {
  MetricsConfig metrics;
  AcmeConfig acme;
  std::string socket = "/run/edge/trustd.sock";
  int socket_mode = 0660;
  std::string master_key_file = "/var/lib/edge/master.key";
  int64_t expiry_warning_days = 30;
  // pins.platform / pins.edge / pins.client: normalized SHA-256 of a certificate or SPKI.
  std::map<std::string, std::vector<std::string>> pins;
  // crl_files.cert_chain / crl_files.http_client_ca_certs: CRL files per trust store.
  std::map<std::string, std::vector<std::string>> crl_files;
  StrictPolicyConfig policy;
  std::vector<CallerConfig> callers;
};

struct EdgedConfig {
  MetricsConfig metrics;
  std::string socket = "/run/edge/edged.sock";
  int socket_mode = 0660;
  bool offline_store_fsync = true;
  // The longest wait between connection attempts once the backoff has doubled
  // ws_connection.connect_retry_interval (edged/reconnect_policy.h). Milliseconds.
  int64_t max_reconnect_delay = 300000;
  // Local calls (writes, reads, service calls, events) waiting at once for the platform's
  // answer or for the offline store; past it a call is refused (RESOURCE_EXHAUSTED).
  int64_t max_calls_in_flight = 4096;
  std::vector<CallerConfig> callers;
  // Bounds of the file services (EMS's `file` group): transfers open at once in total and
  // per Thing, and the bytes all staged files may hold together.
  int64_t file_max_transfers = 16;
  int64_t file_max_transfers_per_thing = 4;
  int64_t file_max_staging_bytes = 8000000000;
};

struct RestdConfig {
  MetricsConfig metrics;
  int64_t max_body_bytes = 1048576;
  // Connection limits of the HTTPS server (milliseconds for the timeouts); the whole body
  // must arrive within http_server.content_read_timeout.
  int64_t keepalive_timeout = 60000;          // Idle between keep-alive requests.
  int64_t handshake_timeout = 10000;          // Accept -> TLS handshake done.
  int64_t header_timeout = 20000;             // Handshake done -> whole request header.
  int64_t max_pending_handshakes = 64;        // Not yet clients; oldest dropped first.
  int64_t max_connections_per_address = 8;    // Of max_clients + pending, per peer address.
  int64_t io_threads = 2;                     // HTTPS I/O threads.
  std::string client_certificates = "none";   // "none", "optional" or "require" (by trustd).
  std::string edged_socket;                   // Empty: edged.socket.
  int64_t health_check_interval = 5000;       // auto_bind endpoints, milliseconds.
  // Where restd keeps what must survive a restart (Things added with AddEdgeThing and
  // "persist": true, in edge_things.json). Created (0750) on first use.
  std::string state_directory = "/var/lib/edge/restd";
};

struct Config {
  std::string source;    // The file it was loaded from ("" for text).
  std::string base_dir;  // Relative file paths were resolved against this directory.
  std::vector<WsServer> ws_servers;
  Secret app_key;        // appKey
  WsConnection ws_connection;
  DutyCycle duty_cycle;
  HttpServer http_server;
  Certificates certificates;
  std::vector<AutoBind> auto_bind;
  OfflineMsgStore offline_msg_store;
  FileTransfer file;
  Proxy proxy;
  Logger logger;
  TrustdConfig trustd;
  EdgedConfig edged;
  RestdConfig restd;
};

}  // namespace edge::config

#endif  // SERVICES_CONFIG_CONFIG_H_
