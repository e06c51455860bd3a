#include "services/config/loader.h"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/config/validate.h"

namespace edge::config {
namespace {

// A directory with the files a valid configuration names, and a valid YAML base.
class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/cfg", counter_++);
    ::mkdir(dir_.c_str(), 0755);
    Write("ca.pem", "ca", 0644);
    Write("restd.pem", "cert", 0644);
    Write("restd.key", "key", 0600);
  }

  void Write(const std::string& name, const std::string& content, int mode) {
    std::string path = absl::StrCat(dir_, "/", name);
    std::ofstream(path) << content;
    ::chmod(path.c_str(), mode);
  }

  // A valid configuration with `extra` appended (later keys of a YAML map would clash, so
  // tests replace whole groups through `replace`).
  std::string Yaml(const std::map<std::string, std::string>& replace = {}) {
    std::map<std::string, std::string> groups = {
        {"ws_servers", "ws_servers:\n  - host: platform.example\n    port: 443\n"},
        {"appKey", "appKey: \"AES:AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"\n"},
        {"http_server",
         "http_server:\n  certificate: restd.pem\n  private_key: restd.key\n"
         "  user: admin\n  password: \"AES:AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"\n"},
        {"certificates", "certificates:\n  cert_chain: ca.pem\n"},
        {"trustd", absl::StrCat("trustd:\n  master_key_file: ", dir_, "/master.key\n")},
    };
    for (const auto& [k, v] : replace) groups[k] = v;
    std::string out;
    for (const auto& [k, v] : groups) out += v;
    return out;
  }

  std::vector<std::string> Lines(const std::string& text) {
    Config config;
    std::vector<std::string> lines;
    for (const Diagnostic& d : CheckConfigText(text, "test.yaml", dir_, &config)) {
      lines.push_back(d.ToString());
    }
    return lines;
  }

  static int counter_;
  std::string dir_;
};

int LoaderTest::counter_ = 0;

TEST_F(LoaderTest, AcceptsAValidYamlConfigWithDefaultsApplied) {
  auto loaded = LoadConfigText(Yaml(), "test.yaml", dir_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(loaded->diagnostics.empty()) << loaded->diagnostics[0].ToString();
  const Config& c = loaded->config;
  EXPECT_EQ(c.ws_servers.size(), 1u);
  EXPECT_EQ(c.ws_connection.encryption, "ssl");
  EXPECT_EQ(c.ws_connection.ping_rate, 55000);
  EXPECT_EQ(c.ws_connection.max_msg_size, 1048576);
  EXPECT_EQ(c.http_server.port, 8000);
  EXPECT_EQ(c.http_server.max_clients, 15);
  EXPECT_TRUE(c.http_server.enable_csrf_tokens);
  EXPECT_EQ(c.certificates.cert_chain, std::vector<std::string>{dir_ + "/ca.pem"});
  EXPECT_EQ(c.http_server.private_key, dir_ + "/restd.key");
  EXPECT_EQ(c.trustd.socket, "/run/edge/trustd.sock");
  EXPECT_EQ(c.trustd.socket_mode, 0660);
  EXPECT_EQ(c.trustd.expiry_warning_days, 30);
  EXPECT_TRUE(c.app_key.sealed());
}

struct Case {
  const char* name;
  std::map<std::string, std::string> replace;
  std::string expected;  // One whole line among the diagnostics.
};

TEST_F(LoaderTest, ReportsEachProblemWithItsFieldPath) {
  const std::vector<Case> cases = {
      {"unknown key with a suggestion",
       {{"certificates", "certificates:\n  cert_chain: ca.pem\n  fingerprint_alowlist: []\n"}},
       "warning: certificates.fingerprint_alowlist: not supported by this stack: an unknown "
       "key, ignored; did you mean \"fingerprint_allowlist\"?"},
      {"unknown top-level key",
       {{"zzz", "completely_unrelated: 1\n"}},
       "warning: completely_unrelated: not supported by this stack: an unknown key, ignored"},
      {"auto_bind as an object",
       {{"auto_bind", "auto_bind:\n  name: Pump1\n"}},
       "error: auto_bind: expected an array of Things ([{\"name\": ...}]), found an object"},
      {"empty fingerprint_allowlist",
       {{"certificates", "certificates:\n  cert_chain: ca.pem\n  fingerprint_allowlist: []\n"}},
       "error: certificates.fingerprint_allowlist: expected at least one SHA-256 fingerprint, "
       "found an empty list; remove the key, or add fingerprints (`trustctl fingerprint "
       "ENDPOINT.pem` prints them)"},
      {"fingerprint_whitelist",
       {{"certificates",
         "certificates:\n  cert_chain: ca.pem\n  fingerprint_whitelist: [\"ab\"]\n"}},
       "error: certificates.fingerprint_whitelist: this key was renamed: expected "
       "\"fingerprint_allowlist\", found \"fingerprint_whitelist\""},
      {"short fingerprint",
       {{"certificates",
         "certificates:\n  cert_chain: ca.pem\n  fingerprint_allowlist:\n"
         "    - \"" + std::string(64, 'a') + "\"\n    - \"AB:CD:EF\"\n"}},
       "error: certificates.fingerprint_allowlist[1]: expected 64 hex digits (SHA-256, ':' "
       "optional), found 6 hex digits"},
      {"fingerprint with a non-hex character",
       {{"certificates",
         "certificates:\n  cert_chain: ca.pem\n  fingerprint_allowlist:\n    - \"" +
             std::string(63, 'a') + "z\"\n"}},
       "error: certificates.fingerprint_allowlist[0]: expected 64 hex digits (SHA-256, ':' "
       "optional), found \"" + std::string(63, 'a').substr(0, 40) +
           "...\", which has characters that are not hex"},
      {"user name with a colon",
       {{"http_server",
         "http_server:\n  certificate: restd.pem\n  private_key: restd.key\n  user: \"ad:min\"\n"
         "  password: \"AES:AQ==\"\n"}},
       "error: http_server.user: expected a user name without ':' (HTTP basic auth splits on "
       "it), found one that contains ':'"},
      {"auto_bind user with a colon",
       {{"auto_bind", "auto_bind:\n  - name: Pump1\n    user: \"a:b\"\n"}},
       "error: auto_bind[0].user: expected a user name without ':' (HTTP basic auth splits on "
       "it), found one that contains ':'"},
      {"port out of range",
       {{"ws_servers", "ws_servers:\n  - host: platform.example\n    port: 70000\n"}},
       "error: ws_servers[0].port: expected a port number from 1 to 65535, found 70000"},
      {"http port not a number",
       {{"http_server",
         "http_server:\n  certificate: restd.pem\n  private_key: restd.key\n  user: admin\n"
         "  password: \"AES:AQ==\"\n  port: eighty\n"}},
       "error: http_server.port: expected an integer, found \"eighty\""},
      {"missing file",
       {{"certificates", "certificates:\n  cert_chain: nowhere.pem\n"}},
       "error: certificates.cert_chain: expected a readable file, found no such file: " +
           dir_ + "/nowhere.pem"},
      {"ssl off",
       {{"ws_connection", "ws_connection:\n  encryption: none\n"}},
       "warning: ws_connection.encryption: SSL is off: the platform connection, app key "
       "included, travels in clear text"},
      {"bad encryption",
       {{"ws_connection", "ws_connection:\n  encryption: tls\n"}},
       "error: ws_connection.encryption: expected \"ssl\" or \"none\", found \"tls\""},
      {"http ssl off",
       {{"http_server",
         "http_server:\n  ssl: false\n  user: admin\n  password: \"AES:AQ==\"\n"}},
       "warning: http_server.ssl: SSL is off: the REST API, passwords included, is served in "
       "clear text"},
      {"authentication off",
       {{"http_server",
         "http_server:\n  certificate: restd.pem\n  private_key: restd.key\n"
         "  authenticate: false\n"}},
       "warning: http_server.authenticate: authentication is off: anyone who reaches the REST "
       "port can use it"},
      {"validation off",
       {{"certificates", "certificates:\n  cert_chain: ca.pem\n  validate: false\n"}},
       "warning: certificates.validate: certificate validation is off: any peer is accepted, "
       "including an attacker"},
      {"host name validation off",
       {{"certificates",
         "certificates:\n  cert_chain: ca.pem\n  disable_hostname_validation: true\n"}},
       "warning: certificates.disable_hostname_validation: host names are not checked: any "
       "certificate from a trusted CA is accepted for any server"},
      {"self-signed allowed",
       {{"certificates", "certificates:\n  cert_chain: ca.pem\n  allow_self_signed: true\n"}},
       "warning: certificates.allow_self_signed: self-signed peer certificates are accepted"},
      {"policy relaxation",
       {{"trustd", "trustd:\n  master_key_file: /tmp/mk\n  policy:\n    "
                   "allow_sha1_signatures: true\n"}},
       "warning: trustd.policy.allow_sha1_signatures: relaxes the strict certificate policy: "
       "SHA-1 signatures are accepted"},
      {"boolean that is not",
       {{"certificates", "certificates:\n  cert_chain: ca.pem\n  validate: maybe\n"}},
       "error: certificates.validate: expected true or false, found \"maybe\""},
      {"negative timeout",
       {{"ws_connection", "ws_connection:\n  msg_timeout: -5\n"}},
       "error: ws_connection.msg_timeout: expected milliseconds, at least 0, found -5"},
      {"auto_bind without a name",
       {{"auto_bind", "auto_bind:\n  - host: lsr.local\n"}},
       "error: auto_bind[0].name: expected the Thing's name, found none"},
      {"auto_bind Thing name ThingWorx would refuse",
       {{"auto_bind", "auto_bind:\n  - name: \"Pump/1\"\n"}},
       "error: auto_bind[0].name: expected a name without + / : * \" < > \\ % ? #, found "
       "\"Pump/1\""},
      {"bad protocol",
       {{"auto_bind", "auto_bind:\n  - name: Pump1\n    protocol: ftp\n"}},
       "error: auto_bind[0].protocol: expected \"http\" or \"https\", found \"ftp\""},
      {"socket mode not octal",
       {{"trustd", "trustd:\n  master_key_file: /tmp/mk\n  socket_mode: \"0999\"\n"}},
       "error: trustd.socket_mode: expected an octal permission mode such as \"0660\", found "
       "\"0999\""},
      {"no platform servers",
       {{"ws_servers", "ws_servers: []\n"}},
       "error: ws_servers: expected at least one platform server {host, port}, found none"},
      {"ssl without a certificate",
       {{"http_server", "http_server:\n  private_key: restd.key\n  user: admin\n"
                        "  password: \"AES:AQ==\"\n"}},
       "error: http_server.certificate: expected a PEM certificate chain because "
       "http_server.ssl is true, found none"},
      {"authentication without a password",
       {{"http_server",
         "http_server:\n  certificate: restd.pem\n  private_key: restd.key\n  user: admin\n"}},
       "error: http_server.password: expected a password because http_server.authenticate is "
       "true, found none"},
      {"client certificate mode",
       {{"restd", "restd:\n  client_certificates: maybe\n"}},
       "error: restd.client_certificates: expected \"none\", \"optional\" or \"require\", "
       "found \"maybe\""},
      {"plaintext secret",
       {{"appKey", "appKey: \"plain-app-key-123\"\n"}},
       "warning: appKey: secret given in plaintext; seal it with `trustctl encrypt -` (the "
       "secret on standard input) and paste the AES:... value here"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<std::string> lines = Lines(Yaml(c.replace));
    EXPECT_NE(std::find(lines.begin(), lines.end(), c.expected), lines.end())
        << "got:\n" << absl::StrJoin(lines, "\n");
  }
}

TEST_F(LoaderTest, WarnsAboutAPrivateKeyReadableByOthers) {
  Write("restd.key", "key", 0644);
  std::vector<std::string> lines = Lines(Yaml());
  std::string expected = absl::StrCat("warning: http_server.private_key: private key file ", dir_,
                                      "/restd.key is readable by others (mode 0644); chmod 600 ",
                                      dir_, "/restd.key");
  EXPECT_NE(std::find(lines.begin(), lines.end(), expected), lines.end())
      << absl::StrJoin(lines, "\n");
}

TEST_F(LoaderTest, ReportsEveryErrorAtOnce) {
  auto loaded = LoadConfigText(
      Yaml({{"ws_servers", "ws_servers:\n  - host: p\n    port: 0\n"},
            {"certificates", "certificates:\n  cert_chain: ca.pem\n  fingerprint_allowlist: []\n"},
            {"auto_bind", "auto_bind: {name: x}\n"}}),
      "test.yaml", dir_);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  std::string message(loaded.status().message());
  EXPECT_NE(message.find("ws_servers[0].port"), std::string::npos) << message;
  EXPECT_NE(message.find("certificates.fingerprint_allowlist"), std::string::npos) << message;
  EXPECT_NE(message.find("error: auto_bind:"), std::string::npos) << message;
}

TEST_F(LoaderTest, NeverPutsSecretValuesInMessages) {
  const std::string secret = "s3cr3t-value-XYZ";
  std::string text = Yaml({{"appKey", "appKey: [\"" + secret + "\"]\n"},
                           {"http_server", "http_server:\n  certificate: restd.pem\n"
                                           "  private_key: restd.key\n  user: admin\n"
                                           "  password: \"" + secret + "\"\n"
                                           "  passphrase: {x: \"" + secret + "\"}\n"},
                           {"auto_bind", "auto_bind:\n  - name: P\n    password: \"" + secret +
                                             "\"\n"}});
  for (const std::string& line : Lines(text)) {
    EXPECT_EQ(line.find(secret), std::string::npos) << line;
  }
}

TEST_F(LoaderTest, ReportsSyntaxErrorsWithLineAndColumn) {
  std::vector<std::string> lines = Lines("ws_servers: [\n  {host: x\n");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].rfind("error: test.yaml: not valid YAML or JSON at line ", 0), 0u) << lines[0];
}

TEST_F(LoaderTest, RefusesAbsurdNesting) {
  std::vector<std::string> lines = Lines(std::string(1000, '[') + std::string(1000, ']'));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "error: test.yaml: nested more than 64 levels deep; this is not a "
                      "configuration file");
}

TEST_F(LoaderTest, NamesAFileThatCannotBeRead) {
  auto loaded = LoadConfigFile(dir_ + "/missing.json");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(loaded.status().message(),
            "error: cannot read the configuration: " + dir_ + "/missing.json: no such file");
}

TEST_F(LoaderTest, LoadsAnEmsConfigJsonWithCommentsAndTabs) {
  std::string json = absl::StrCat(
      "{\n"
      "\t// The platform\n"
      "\t\"ws_servers\": [{\"host\": \"platform.example\", \"port\": 443}],\n"
      "\t\"appKey\": \"AES:AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\", // sealed\n"
      "\t\"http_server\": {\"certificate\": \"restd.pem\", \"private_key\": \"restd.key\",\n"
      "\t\t\"user\": \"admin\", \"password\": \"AES:AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"},\n"
      "\t\"certificates\": {\"cert_chain\": [\"ca.pem\"],\n"
      "\t\t\"fingerprint_allowlist\": [\"", std::string(64, 'A'), "\"]},\n"
      "\t\"auto_bind\": [{\"name\": \"Pump1\", \"host\": \"lsr.local\", \"port\": 8443,\n"
      "\t\t\"path\": \"http://lsr.local//x\", \"protocol\": \"https\"}],\n"
      "\t\"trustd\": {\"master_key_file\": \"", dir_, "/master.key\"}\n"
      "}\n");
  auto loaded = LoadConfigText(json, "config.json", dir_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const Config& c = loaded->config;
  ASSERT_EQ(c.auto_bind.size(), 1u);
  EXPECT_EQ(c.auto_bind[0].path, "http://lsr.local//x");  // "//" inside a string survives.
  EXPECT_EQ(c.auto_bind[0].port, 8443);
  EXPECT_EQ(c.auto_bind[0].timeout, 30000);
  EXPECT_EQ(c.certificates.fingerprint_allowlist, std::vector<std::string>{std::string(64, 'a')});
  EXPECT_EQ(c.certificates.cert_chain, std::vector<std::string>{dir_ + "/ca.pem"});
}

TEST_F(LoaderTest, ReadsRestdConnectionLimitsWithTheirDefaultsAndRanges) {
  auto loaded = LoadConfigText(Yaml(), "test.yaml", dir_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const RestdConfig& r = loaded->config.restd;
  EXPECT_EQ(r.handshake_timeout, 10000);
  EXPECT_EQ(r.header_timeout, 20000);
  EXPECT_EQ(r.keepalive_timeout, 60000);
  EXPECT_EQ(r.max_pending_handshakes, 64);
  EXPECT_EQ(r.max_connections_per_address, 8);

  loaded = LoadConfigText(Yaml({{"restd", "restd:\n  handshake_timeout: 1000\n"
                                          "  header_timeout: 2000\n  max_pending_handshakes: 5\n"
                                          "  max_connections_per_address: 3\n"}}),
                          "test.yaml", dir_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->config.restd.handshake_timeout, 1000);
  EXPECT_EQ(loaded->config.restd.header_timeout, 2000);
  EXPECT_EQ(loaded->config.restd.max_pending_handshakes, 5);
  EXPECT_EQ(loaded->config.restd.max_connections_per_address, 3);

  const std::vector<std::pair<std::string, std::string>> cases = {
      {"restd:\n  handshake_timeout: 0\n",
       "error: restd.handshake_timeout: expected milliseconds, at least 1, found 0"},
      {"restd:\n  header_timeout: soon\n",
       "error: restd.header_timeout: expected an integer, found \"soon\""},
      {"restd:\n  max_pending_handshakes: 0\n",
       "error: restd.max_pending_handshakes: expected an integer from 1 to 100000, found 0"},
      {"restd:\n  max_connections_per_address: -1\n",
       "error: restd.max_connections_per_address: expected an integer from 1 to 100000, found -1"},
  };
  for (const auto& [restd, expected] : cases) {
    SCOPED_TRACE(restd);
    std::vector<std::string> lines = Lines(Yaml({{"restd", restd}}));
    EXPECT_NE(std::find(lines.begin(), lines.end(), expected), lines.end())
        << absl::StrJoin(lines, "\n");
  }
}

TEST_F(LoaderTest, ReportsWhatThisStackDoesNotImplementAsNotSupportedWithItsPath) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"tunnel:\n  enabled: true\n",
       "warning: tunnel: not supported by this stack: EMS tunnels (remote sessions through the "
       "platform) are not implemented; the group is ignored"},
      {"http_server_typo: 1\n",
       "warning: http_server_typo: not supported by this stack: an unknown key, ignored"},
  };
  for (const auto& [group, expected] : cases) {
    SCOPED_TRACE(group);
    Config config;
    std::vector<Diagnostic> all =
        CheckConfigText(Yaml({{"zzz", group}}), "test.yaml", dir_, &config);
    ASSERT_EQ(all.size(), 1u) << all[0].ToString();
    EXPECT_EQ(all[0].severity, Diagnostic::Severity::kUnsupported);
    EXPECT_EQ(all[0].ToString(), expected);
  }
  // Nested: the key's whole path.
  std::vector<std::string> lines =
      Lines(Yaml({{"ws_connection", "ws_connection:\n  reconnect_magic: 3\n"}}));
  EXPECT_EQ(lines, std::vector<std::string>{"warning: ws_connection.reconnect_magic: not "
                                            "supported by this stack: an unknown key, ignored"});
}

// EMS's `logger` as its documentation shows it: every key read, only audit_target (a second
// destination) not supported; the levels by EMS's names.
TEST_F(LoaderTest, TakesEmsFileGroupAsDocumented) {
  // The EMS documentation's example, staging_dir naming a virtual directory.
  Config config;
  std::vector<Diagnostic> all = CheckConfigText(
      Yaml({{"zzz", "file:\n  buffer_size: 8192\n  max_file_size: 8000000000\n"
                    "  virtual_dirs:\n    - in: /opt/thingworx/in\n    - out: /opt/thingworx/out\n"
                    "    - staging: /opt/thingworx/staging\n"
                    "    - name: logs\n      path: /var/log/pump\n      things: [Pump1]\n"
                    "  staging_dir: staging\n  idle_timeout: 12000\n"}}),
      "test.yaml", dir_, &config);
  for (const Diagnostic& d : all) ADD_FAILURE() << d.ToString();
  ASSERT_EQ(config.file.virtual_dirs.size(), 4u);
  EXPECT_EQ(config.file.virtual_dirs[0].name, "in");
  EXPECT_EQ(config.file.virtual_dirs[0].path, "/opt/thingworx/in");
  EXPECT_TRUE(config.file.virtual_dirs[0].things.empty());
  EXPECT_EQ(config.file.virtual_dirs[3].things, std::vector<std::string>{"Pump1"});
  EXPECT_EQ(config.file.StagingPath(), "/opt/thingworx/staging");
  EXPECT_EQ(config.file.buffer_size, 8192);
  EXPECT_EQ(config.file.max_file_size, 8000000000);
  EXPECT_EQ(config.file.idle_timeout, 12000);

  // A path for staging_dir, relative to the file like the other paths.
  Config relative;
  CheckConfigText(Yaml({{"zzz", "file:\n  virtual_dirs: [{in: /opt/in}]\n  staging_dir: st\n"}}),
                  "test.yaml", dir_, &relative);
  EXPECT_EQ(relative.file.StagingPath(), dir_ + "/st");
}

TEST_F(LoaderTest, ReportsEachFileGroupProblemWithItsFieldPath) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"file:\n  virtual_dirs: {in: /opt/in}\n",
       "error: file.virtual_dirs: expected an array of {\"NAME\": \"/local/dir\"} objects, "
       "found an object"},
      {"file:\n  virtual_dirs: [/opt/in]\n",
       "error: file.virtual_dirs[0]: expected an object {\"NAME\": \"/local/dir\"}, found "
       "\"/opt/in\""},
      {"file:\n  virtual_dirs: [{in: opt/in}]\n",
       "error: file.virtual_dirs[0]: expected an absolute path (EMS requires one), found "
       "\"opt/in\""},
      {"file:\n  virtual_dirs: [{in: [/a]}]\n",
       "error: file.virtual_dirs[0].in: expected the absolute path of a local directory, found "
       "an array"},
      {"file:\n  virtual_dirs: [{\"..\": /opt}]\n",
       "error: file.virtual_dirs[0]: expected a directory name (no /, \\, :, control "
       "characters; not \".\", \"..\" or \"__staging__\"), found \"..\""},
      {"file:\n  virtual_dirs: [{\"a/b\": /opt}]\n",
       "error: file.virtual_dirs[0]: expected a directory name (no /, \\, :, control "
       "characters; not \".\", \"..\" or \"__staging__\"), found \"a/b\""},
      {"file:\n  virtual_dirs: [{\"*\": /opt}]\n",
       "error: file.virtual_dirs[0]: expected a directory name, found \"*\" (the vendor SDK's "
       "wildcard directory is not supported: name each directory)"},
      {"file:\n  virtual_dirs: [{in: /opt/a}, {in: /opt/b}]\n",
       "error: file.virtual_dirs[1]: the directory \"in\" is already given by "
       "file.virtual_dirs[0]"},
      {"file:\n  virtual_dirs: [{name: in, path: /opt/a, thingz: [P]}]\n",
       "warning: file.virtual_dirs[0].thingz: not supported by this stack: an unknown key, "
       "ignored; did you mean \"things\"?"},
      {"file:\n  virtual_dirs: [{in: /opt/a}]\n  buffer_size: 10\n",
       "error: file.buffer_size: expected bytes, from 1024 to 16777216, found 10"},
      {"file:\n  virtual_dirs: [{in: /opt/a}]\n  idle_timeout: -1\n",
       "error: file.idle_timeout: expected milliseconds, at least 100, found -1"},
      {"edged:\n  file_max_transfers: 0\n",
       "error: edged.file_max_transfers: expected transfers, from 1 to 10000, found 0"},
  };
  for (const auto& [group, expected] : cases) {
    SCOPED_TRACE(group);
    EXPECT_THAT(Lines(Yaml({{"zzz", group}})), ::testing::ElementsAre(expected));
  }
}

TEST_F(LoaderTest, TakesEmsLoggerGroupAsDocumented) {
  std::string logger =
      "logger:\n  level: WARN\n  audit_target: \"file:///var/log/audit\"\n"
      "  publish_directory: logs\n  publish_level: logger:level\n"
      "  max_file_storage: 2000000\n  auto_flush: true\n  flush_chunk_size: 16384\n"
      "  buffer_size: 4096\n";
  Config config;
  std::vector<Diagnostic> all = CheckConfigText(Yaml({{"logger", logger}}), "test.yaml", dir_,
                                                &config);
  ASSERT_EQ(all.size(), 1u) << all[0].ToString();
  EXPECT_EQ(all[0].ToString(),
            "warning: logger.audit_target: not supported by this stack: a separate audit "
            "destination (file:// or http://) is not implemented; AUDIT lines are written to "
            "the log like the others");
  EXPECT_EQ(config.logger.level, "WARN");
  EXPECT_EQ(config.logger.publish_directory, dir_ + "/logs");  // Relative to the file.
  EXPECT_TRUE(config.logger.publish_level_follows_level());
  EXPECT_EQ(config.logger.max_file_storage, 2000000);
  EXPECT_TRUE(config.logger.auto_flush);
}

TEST_F(LoaderTest, RefusesALoggerLevelThatIsNotAnEmsLevelNamingTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"logger:\n  level: VERBOSE\n",
       "error: logger.level: expected one of FORCE, ERROR, WARN, INFO, DEBUG, TRACE, AUDIT, "
       "found \"VERBOSE\""},
      {"logger:\n  publish_level: warning\n",
       "error: logger.publish_level: expected one of FORCE, ERROR, WARN, INFO, DEBUG, TRACE, "
       "AUDIT, found \"warning\" (or \"logger:level\": the same as logger.level)"},
      {"logger:\n  max_file_storage: 1000\n",
       "error: logger.max_file_storage: expected bytes, at least 65536, found 1000"},
      {"logger:\n  auto_flush: sometimes\n",
       "error: logger.auto_flush: expected true or false, found \"sometimes\""},
  };
  for (const auto& [logger, expected] : cases) {
    SCOPED_TRACE(logger);
    EXPECT_EQ(Lines(Yaml({{"logger", logger}})), std::vector<std::string>{expected});
  }
  for (const char* level : {"trace", "Debug", "INFO", "warn", "ERROR", "FORCE", "audit"}) {
    SCOPED_TRACE(level);
    EXPECT_EQ(Lines(Yaml({{"logger", absl::StrCat("logger:\n  level: ", level,
                                                  "\n  publish_level: ", level, "\n")}})),
              std::vector<std::string>{});
  }
}

TEST_F(LoaderTest, WarnsWhenVerboseMessagesWouldNotBeWritten) {
  const std::string warning =
      "warning: ws_connection.verbose: each AlwaysOn message is logged at TRACE, but "
      "logger.level is not TRACE (nor a publish_level with a publish_directory): nothing is "
      "written unless edged runs with --log-level TRACE";
  EXPECT_EQ(Lines(Yaml({{"ws_connection", "ws_connection:\n  verbose: true\n"}})),
            std::vector<std::string>{warning});
  EXPECT_EQ(Lines(Yaml({{"ws_connection", "ws_connection:\n  verbose: true\n"},
                        {"logger", "logger:\n  level: TRACE\n"}})),
            std::vector<std::string>{});
  EXPECT_EQ(Lines(Yaml({{"ws_connection", "ws_connection:\n  verbose: true\n"},
                        {"logger", "logger:\n  publish_directory: logs\n  publish_level: TRACE\n"}})),
            std::vector<std::string>{});
}

TEST_F(LoaderTest, ReportsOneBadFingerprintAsOneError) {
  std::vector<std::string> lines = Lines(Yaml(
      {{"certificates",
        "certificates:\n  cert_chain: ca.pem\n  fingerprint_allowlist: [\"AB:CD\"]\n"}}));
  EXPECT_EQ(lines, std::vector<std::string>{
                       "error: certificates.fingerprint_allowlist[0]: expected 64 hex digits "
                       "(SHA-256, ':' optional), found 4 hex digits"});
}

// The shipped examples load without an error (their files live on the target machine, so
// only the files are not checked) and without an unknown key.
// trustd.acme: every problem named by its field, with what was expected.
TEST_F(LoaderTest, ReportsEachAcmeProblemWithItsFieldPath) {
  auto acme = [this](const std::string& body) {
    return std::map<std::string, std::string>{
        {"trustd", absl::StrCat("trustd:\n  master_key_file: ", dir_, "/master.key\n  acme:\n",
                                body)}};
  };
  const std::string base = "    directory_url: https://ca.example/dir\n    ca_certificates: ca.pem\n";
  const std::vector<Case> cases = {
      {"plain http directory",
       acme("    directory_url: http://ca.example/dir\n    ca_certificates: ca.pem\n"
            "    rest_server: {names: [gw.example.com]}\n"),
       "error: trustd.acme.directory_url: expected an https:// URL of the CA's ACME directory, "
       "found \"http://ca.example/dir\""},
      {"no anchors for the CA",
       acme("    directory_url: https://ca.example/dir\n    rest_server: {names: [gw.example.com]}\n"),
       "error: trustd.acme.ca_certificates: expected the CA certificate file(s) that validate "
       "the ACME server's TLS certificate, found none"},
      {"no identity",
       acme(base),
       "error: trustd.acme: expected rest_server or platform_client (the identities trustd "
       "obtains from the CA), found neither"},
      {"a wildcard name",
       acme(base + "    rest_server: {names: [\"*.example.com\"]}\n"),
       "error: trustd.acme.rest_server.names[0]: \"*.example.com\" is a wildcard; a wildcard "
       "needs the dns-01 challenge, which trustd does not answer: list each name"},
      {"not a DNS name",
       acme(base + "    rest_server: {names: [\"gw_1.example.com\"]}\n"),
       "error: trustd.acme.rest_server.names[0]: expected a DNS name (labels of letters, digits "
       "and '-', 1 to 63 characters) or an IP address, found \"gw_1.example.com\""},
      {"no names for the client certificate",
       acme(base + "    platform_client: {}\n"),
       "error: trustd.acme.platform_client.names: expected the names the client certificate "
       "carries, found none"},
      {"an unknown challenge",
       acme(base + "    challenge: dns-01\n    rest_server: {names: [gw.example.com]}\n"),
       "error: trustd.acme.challenge: expected \"http-01\" or \"tls-alpn-01\", found \"dns-01\""},
      {"a listen address without a port",
       acme(base + "    http01_address: 0.0.0.0\n    rest_server: {names: [gw.example.com]}\n"),
       "error: trustd.acme.http01_address: \"0.0.0.0\" has no :PORT; expected HOST:PORT with an "
       "IP address or localhost, e.g. 127.0.0.1:9101 or [::1]:9101"},
      {"half an EAB",
       acme(base + "    external_account_binding: {key_id: kid-1}\n"
                   "    rest_server: {names: [gw.example.com]}\n"),
       "error: trustd.acme.external_account_binding.hmac_key: expected key_id and hmac_key "
       "together (the CA hands out both), found one"},
      {"a fraction out of range",
       acme(base + "    renew_when_remaining: 1.5\n    rest_server: {names: [gw.example.com]}\n"),
       "error: trustd.acme.renew_when_remaining: expected a fraction of the certificate's "
       "lifetime between 0 and 1, such as 0.33, found \"1.5\""},
      {"an unknown key type",
       acme(base + "    rest_server: {names: [gw.example.com], key_type: ed25519}\n"),
       "error: trustd.acme.rest_server.key_type: expected \"ec-p256\" or \"rsa-2048\", found "
       "\"ed25519\""},
      {"an identity without a CA",
       acme("    rest_server: {names: [gw.example.com]}\n"),
       "error: trustd.acme.rest_server: expected trustd.acme.directory_url (the ACME CA) for "
       "trustd to obtain this identity, found none"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> lines = Lines(Yaml(c.replace));
    EXPECT_THAT(lines, ::testing::Contains(c.expected)) << c.name;
  }
  // Managed by ACME, restd's identity needs no files of its own.
  std::vector<std::string> lines = Lines(Yaml(
      {{"http_server", "http_server:\n  host: gw.example.com\n  user: admin\n"
                       "  password: \"AES:AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"\n"},
       {"trustd", absl::StrCat("trustd:\n  master_key_file: ", dir_, "/master.key\n  acme:\n",
                               base, "    rest_server: {}\n")}}));
  EXPECT_TRUE(lines.empty()) << lines[0];
  Config config;
  CheckConfigText(Yaml({{"http_server", "http_server:\n  host: GW.example.com\n"},
                        {"trustd", absl::StrCat("trustd:\n  acme:\n", base,
                                                "    rest_server: {names: [gw.example.com, "
                                                "10.0.0.7]}\n")}}),
                  "test.yaml", dir_, &config);
  EXPECT_EQ(AcmeNames(config, true), (std::vector<std::string>{"gw.example.com", "10.0.0.7"}));
}

TEST(ExampleConfigTest, ShippedExamplesLoadCleanly) {
  for (const char* name : {"deploy/examples/config.yaml", "deploy/examples/config.json",
                           "deploy/compose/config.yaml"}) {
    SCOPED_TRACE(name);
    std::string path = absl::StrCat(std::getenv("TEST_SRCDIR"), "/", std::getenv("TEST_WORKSPACE"),
                                    "/", name);
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    Config config;
    for (const Diagnostic& d : CheckConfigText(text.str(), name, "/etc/edge", &config,
                                               /*check_files=*/false)) {
      EXPECT_EQ(d.severity, Diagnostic::Severity::kWarning) << d.ToString();
      EXPECT_NE(d.severity, Diagnostic::Severity::kUnsupported) << d.ToString();
    }
    EXPECT_EQ(config.auto_bind.size(), 1u);
  }
}

TEST(JsonToYamlTest, StripsCommentsOnlyOutsideStrings) {
  EXPECT_EQ(JsonToYaml("{\"a\": \"x//y\", // c\n\t\"b\": 1}"), "{\"a\": \"x//y\", \n \"b\": 1}");
  EXPECT_EQ(JsonToYaml("{\"a\": \"q\\\"//\"}"), "{\"a\": \"q\\\"//\"}");
  EXPECT_EQ(JsonToYaml("\"\\ud83d\\ude1c\""), "\"\\U0001f61c\"");
}

}  // namespace
}  // namespace edge::config
