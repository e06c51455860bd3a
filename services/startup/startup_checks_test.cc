#include "services/startup/startup_checks.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "services/common/log.h"

namespace edge::startup {
namespace {

using config::Diagnostic;

// A directory laid out as a machine the stack starts on: the socket directory, the CA file,
// the offline store's parent; the master key's directory only when a test makes it.
class StartupChecksTest : public ::testing::Test {
 public:  // The cases' setup functions use Write and dir_.
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/startup", counter_++);
    ::mkdir(dir_.c_str(), 0755);
    ::mkdir((dir_ + "/run").c_str(), 0750);
    Write("ca.pem", "ca", 0644);
  }

  void Write(const std::string& name, const std::string& content, int mode) {
    std::string path = absl::StrCat(dir_, "/", name);
    std::ofstream(path) << content;
    ::chmod(path.c_str(), mode);
  }

  // An EMS-style file with plaintext secrets; `replace` swaps whole groups.
  std::string Yaml(const std::map<std::string, std::string>& replace = {}) {
    std::map<std::string, std::string> groups = {
        {"ws_servers", "ws_servers:\n  - host: platform.example\n    port: 443\n"},
        {"appKey", "appKey: \"plain-app-key\"\n"},
        {"http_server", "http_server:\n  ssl: false\n  user: admin\n  password: \"plain-pw\"\n"},
        {"certificates", "certificates:\n  cert_chain: ca.pem\n"},
        {"offline_msg_store", "offline_msg_store:\n  directory: offline\n"},
        {"trustd", "trustd:\n  socket: run/trustd.sock\n  master_key_file: keys/master.key\n"},
        {"edged", "edged:\n  socket: run/edged.sock\n"},
    };
    for (const auto& [k, v] : replace) groups[k] = v;
    std::string out;
    for (const auto& [k, v] : groups) out += v;
    return out;
  }

  // Socket paths are not resolved against the file's directory, and the test directory is
  // too long for a socket address: checked from inside it.
  CheckedConfig Check(const std::string& text, const std::vector<Daemon>& daemons) {
    char* here = ::getcwd(nullptr, 0);
    std::string cwd = here;
    std::free(here);
    EXPECT_EQ(::chdir(dir_.c_str()), 0);
    CheckedConfig checked = CheckConfigText(text, "config.yaml", dir_, daemons);
    EXPECT_EQ(::chdir(cwd.c_str()), 0);
    return checked;
  }

  std::vector<std::string> Lines(const std::string& text, std::vector<Daemon> daemons,
                                 Diagnostic::Severity severity) {
    CheckedConfig checked = Check(text, daemons);
    std::vector<std::string> lines;
    for (const Diagnostic& d : checked.diagnostics) {
      if (d.severity == severity) lines.push_back(d.ToString());
    }
    return lines;
  }

  std::vector<std::string> Errors(const std::string& text,
                                  std::vector<Daemon> daemons = {Daemon::kTrustd, Daemon::kEdged,
                                                                 Daemon::kRestd}) {
    return Lines(text, daemons, Diagnostic::Severity::kError);
  }

  static int counter_;
  std::string dir_;
};

int StartupChecksTest::counter_ = 0;

const char kLegacyEms[] = "AES:8Vw3Yw1NdkSvtZ7m6hCY5Q==";  // As `wsems -encrypt` writes one.
const char kOurs[] = "AES:AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";  // Our form.

TEST_F(StartupChecksTest, StartsAnEmsFileWithPlaintextSecretsWithoutAMasterKey) {
  EXPECT_EQ(Errors(Yaml()), std::vector<std::string>{});
  std::vector<std::string> warnings =
      Lines(Yaml(), {Daemon::kTrustd}, Diagnostic::Severity::kWarning);
  std::string expected = absl::StrCat(
      "warning: trustd.master_key_file: no master key (", dir_,
      "/keys/master.key) and no "
      "directory ",
      dir_,
      "/keys for one: nothing here is sealed, so none is needed (the "
      "secrets are plaintext); to seal secrets, run `trustctl encrypt --master-key ", dir_,
      "/keys/master.key -` (it creates ", dir_, "/keys 0700 and the key 0600)");
  EXPECT_NE(std::find(warnings.begin(), warnings.end(), expected), warnings.end())
      << absl::StrJoin(warnings, "\n");
  EXPECT_NE(std::find(warnings.begin(), warnings.end(),
                      "warning: appKey: secret given in plaintext; seal it with `trustctl "
                      "encrypt -` (the secret on standard input) and paste the AES:... value "
                      "here"),
            warnings.end())
      << absl::StrJoin(warnings, "\n");
}

TEST_F(StartupChecksTest, NamesALegacyEmsValueWhetherOrNotAMasterKeyExists) {
  const std::string legacy =
      "error: appKey: the sealed value is not one of ours: it is a legacy EMS value, sealed by "
      "`wsems -encrypt` with EMS's built-in key, which is not public, so nothing can decrypt it "
      "here; seal the plaintext again with `trustctl encrypt -` and paste the AES:... value in "
      "its place";
  std::string text = Yaml({{"appKey", absl::StrCat("appKey: \"", kLegacyEms, "\"\n")}});
  {
    SCOPED_TRACE("no master key");
    EXPECT_EQ(Errors(text), std::vector<std::string>{legacy});
  }
  {
    SCOPED_TRACE("a master key");
    ::mkdir((dir_ + "/keys").c_str(), 0700);
    Write("keys/master.key", std::string(32, 'k'), 0600);
    EXPECT_EQ(Errors(text), std::vector<std::string>{legacy});
  }
  {
    SCOPED_TRACE("edged and restd say the same");
    EXPECT_EQ(Errors(text, {Daemon::kEdged}), std::vector<std::string>{legacy});
    EXPECT_EQ(Errors(text, {Daemon::kRestd}), std::vector<std::string>{legacy});
  }
}

TEST_F(StartupChecksTest, GivesEachStartUpErrorItsFieldAsItsPath) {
  std::string text = Yaml(
      {{"appKey", absl::StrCat("appKey: \"", kLegacyEms, "\"\n")},
       {"edged", "edged:\n  socket: run/edged.sock\n  callers:\n    - user: no-such-user-xyz\n"}});
  CheckedConfig checked = Check(text, {Daemon::kEdged});
  std::vector<std::string> paths;
  for (const Diagnostic& d : checked.diagnostics) {
    if (d.severity == Diagnostic::Severity::kError) paths.push_back(d.path);
  }
  EXPECT_EQ(paths, (std::vector<std::string>{"appKey", "edged.callers[0].user"}));
}

TEST_F(StartupChecksTest, AMetricsAddressMustBeLoopbackUnlessAllowPublicSaysSo) {
  std::string text =
      Yaml({{"edged", "edged:\n  socket: run/edged.sock\n  metrics:\n    address: 0.0.0.0:9102\n"}});
  EXPECT_EQ(Errors(text, {Daemon::kEdged}),
            std::vector<std::string>{
                "error: edged.metrics.address: 0.0.0.0:9102 is not a loopback address; metrics "
                "are served on 127.0.0.1 or ::1 unless edged.metrics.allow_public is true"});
  // The other daemons do not serve edged's metrics: not their error.
  EXPECT_EQ(Errors(text, {Daemon::kRestd}), std::vector<std::string>{});
  text = Yaml({{"edged", "edged:\n  socket: run/edged.sock\n  metrics:\n    address: 0.0.0.0:9102\n"
                         "    allow_public: true\n"}});
  EXPECT_EQ(Errors(text, {Daemon::kEdged}), std::vector<std::string>{});
  text = Yaml({{"edged", "edged:\n  socket: run/edged.sock\n  metrics:\n    address: 9102\n"}});
  std::vector<std::string> errors = Errors(text, {Daemon::kEdged});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_TRUE(absl::StartsWith(errors[0], "error: edged.metrics.address: \"9102\" has no :PORT"))
      << errors[0];
}

TEST_F(StartupChecksTest, ReportsWhatOnlyStartUpUsedToFindWithTheFieldAndTheFix) {
  struct Case {
    const char* name;
    std::map<std::string, std::string> replace;
    std::vector<Daemon> daemons;
    std::string expected;  // The one error.
    std::function<void(StartupChecksTest*)> setup = nullptr;
  };
  // One directory for all: a case's setup stays for the next ones (in this order, harmless).
  const std::vector<Case> cases = {
      {"sealed value, no master key",
       {{"appKey", absl::StrCat("appKey: \"", kOurs, "\"\n")}},
       {Daemon::kTrustd},
       absl::StrCat("error: trustd.master_key_file: the configuration holds sealed values but "
                    "the master key ",
                    dir_,
                    "/keys/master.key does not exist; restore the key "
                    "they were sealed under, or seal them again with `trustctl encrypt "
                    "--master-key ",
                    dir_, "/keys/master.key -`")},
      {"master key readable by others",
       {},
       {Daemon::kTrustd},
       absl::StrCat("error: trustd.master_key_file: master key ", dir_,
                    "/keys/master.key: "
                    "readable or writable by group or others (mode 0644); chmod 600 ",
                    dir_, "/keys/master.key"),
       [](StartupChecksTest* t) {
         ::mkdir((t->dir_ + "/keys").c_str(), 0700);
         t->Write("keys/master.key", std::string(32, 'k'), 0644);
       }},
      {"trustd's socket directory missing where it cannot be created",
       {{"trustd", "trustd:\n  socket: ca.pem/run/trustd.sock\n  master_key_file: keys/m.key\n"}},
       {Daemon::kTrustd},
       "error: trustd.socket: ca.pem/run: the socket's directory does not exist and cannot be "
       "created (ca.pem: exists and is not a directory); create it: install -d -m 0750 -o "
       "DAEMON_USER -g edge ca.pem/run (systemd: RuntimeDirectory=edge)"},
      {"edged's socket directory writable by others",
       {{"edged", "edged:\n  socket: open/edged.sock\n"}},
       {Daemon::kEdged},
       "error: edged.socket: open: the socket's directory is writable by others, so anyone "
       "could replace the socket; chmod o-w open",
       [](StartupChecksTest* t) {
         ::mkdir((t->dir_ + "/open").c_str(), 0777);
         ::chmod((t->dir_ + "/open").c_str(), 0777);
       }},
      {"a caller that is no user of this machine",
       {{"edged",
         "edged:\n  socket: run/edged.sock\n  callers:\n    - user: no-such-user-xyz\n"
         "      methods: [ReadProperty]\n"}},
       {Daemon::kEdged},
       "error: edged.callers[0].user: expected a user of this system, found "
       "\"no-such-user-xyz\", which does not exist"},
      {"offline store under a file",
       {{"offline_msg_store", "offline_msg_store:\n  directory: ca.pem/edge/offline\n"}},
       {Daemon::kEdged},
       absl::StrCat("error: offline_msg_store.directory: ", dir_,
                    "/ca.pem/edge/offline does not exist and cannot be created: ", dir_,
                    "/ca.pem: exists and is not a directory; create it: install -d -m 0700 -o "
                    "EDGED_USER ",
                    dir_, "/ca.pem/edge/offline")},
      {"log directory without a parent",
       {{"logger", "logger:\n  publish_directory: var/log/edge\n"}},
       {Daemon::kEdged, Daemon::kRestd},  // One error for both.
       absl::StrCat("error: logger.publish_directory: ", dir_,
                    "/var/log/edge does not exist, nor does its parent ", dir_,
                    "/var/log; create it: install -d -m 0750 -o DAEMON_USER ", dir_,
                    "/var/log/edge")},
      {"log directory is a file",
       {{"logger", "logger:\n  publish_directory: ca.pem\n"}},
       {Daemon::kRestd},
       absl::StrCat("error: logger.publish_directory: expected a directory, found a file: ",
                    dir_, "/ca.pem")},
      {"offline store is a file",
       {{"offline_msg_store", "offline_msg_store:\n  directory: ca.pem\n"}},
       {Daemon::kEdged},
       absl::StrCat("error: offline_msg_store.directory: expected a directory, found a file: ",
                    dir_, "/ca.pem")},
      {"ACME state under a file",
       // (Its own master key path: an earlier case left keys/master.key open to others.)
       {{"trustd", "trustd:\n  socket: run/trustd.sock\n  master_key_file: run/acme-master.key\n"
                   "  acme:\n    directory_url: https://ca.example/dir\n"
                   "    ca_certificates: ca.pem\n    state_directory: ca.pem/acme\n"
                   "    rest_server: {names: [gw.example.com]}\n"}},
       {Daemon::kTrustd},
       absl::StrCat("error: trustd.acme.state_directory: ", dir_,
                    "/ca.pem/acme does not exist and cannot be created: ", dir_,
                    "/ca.pem: exists and is not a directory; create it: install -d -m 0700 -o "
                    "TRUSTD_USER ",
                    dir_, "/ca.pem/acme")},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    if (c.setup) c.setup(this);
    EXPECT_EQ(Errors(Yaml(c.replace), c.daemons), std::vector<std::string>{c.expected});
  }
}

// An EMS machine has no /var/lib/edge and often no /run/edge: the daemons create what they
// own where they may, so check-config calls such a file valid.
TEST_F(StartupChecksTest, DirectoriesTheDaemonsCanCreateAreNoError) {
  std::string text = Yaml({{"offline_msg_store", "offline_msg_store:\n  directory: var/lib/edge/offline\n"},
                           {"edged", "edged:\n  socket: run/edge/edged.sock\n"}});
  EXPECT_EQ(Errors(text, {Daemon::kEdged}), std::vector<std::string>{});
}

TEST_F(StartupChecksTest, EdgedChecksTheFileGroupsDirectoriesNamingEachEntry) {
  ::mkdir((dir_ + "/in").c_str(), 0750);
  ::mkdir((dir_ + "/open").c_str(), 0777);
  ::chmod((dir_ + "/open").c_str(), 0777);
  ::mkdir((dir_ + "/staging-open").c_str(), 0755);
  std::string file = absl::StrCat("file:\n  virtual_dirs:\n    - in: ", dir_, "/in\n    - gone: ",
                                  dir_, "/gone\n    - cert: ", dir_, "/ca.pem\n    - open: ", dir_,
                                  "/open\n  staging_dir: ", dir_, "/staging-open\n");
  EXPECT_EQ(
      Errors(Yaml({{"file", file}}), {Daemon::kEdged}),
      (std::vector<std::string>{
          absl::StrCat("error: file.virtual_dirs[1]: the directory \"gone\" (", dir_,
                       "/gone) does not exist: No such file or directory; create it: install -d "
                       "-m 0750 -o EDGED_USER ",
                       dir_, "/gone"),
          absl::StrCat("error: file.virtual_dirs[2]: expected a directory, found a file: ", dir_,
                       "/ca.pem"),
          absl::StrCat("error: file.virtual_dirs[3]: ", dir_,
                       "/open is writable by everyone (mode 0777): anyone could plant files or "
                       "links for the platform; chmod o-w ",
                       dir_, "/open"),
          absl::StrCat("error: file.staging_dir: ", dir_,
                       "/staging-open is open to others (mode 0755): files from the platform "
                       "wait there; chmod o-rwx ",
                       dir_, "/staging-open")}));
  // restd and trustd do not look at them (their containers need not mount them).
  EXPECT_EQ(Errors(Yaml({{"file", file}}), {Daemon::kRestd}), std::vector<std::string>{});
  // A staging directory edged can create is no error.
  std::string fine = absl::StrCat("file:\n  virtual_dirs: [{in: ", dir_, "/in}]\n  staging_dir: ",
                                  dir_, "/var/staging\n");
  EXPECT_EQ(Errors(Yaml({{"file", fine}}), {Daemon::kEdged}), std::vector<std::string>{});
}

TEST_F(StartupChecksTest, ChecksOnlyWhatTheDaemonItselfNeeds) {
  // edged does not need the master key, trustd does not need the offline store.
  std::string text = Yaml({{"appKey", absl::StrCat("appKey: \"", kOurs, "\"\n")},
                           {"offline_msg_store", "offline_msg_store:\n  directory: ca.pem/b/c\n"}});
  EXPECT_EQ(Errors(text, {Daemon::kEdged}).size(), 1u);
  EXPECT_EQ(Errors(text, {Daemon::kTrustd}).size(), 1u);
  EXPECT_EQ(Errors(text, {Daemon::kRestd}), std::vector<std::string>{});
  EXPECT_EQ(Errors(text).size(), 2u);
}

TEST_F(StartupChecksTest, ReportsAFileThatIsNotAConfigurationOnce) {
  EXPECT_EQ(Errors("ws_servers: [\n  {host: x\n").size(), 1u);
  CheckedConfig missing = CheckConfigFile(dir_ + "/missing.json", {Daemon::kTrustd});
  ASSERT_EQ(missing.diagnostics.size(), 1u);
  EXPECT_EQ(missing.diagnostics[0].ToString(),
            "error: cannot read the configuration: " + dir_ + "/missing.json: no such file");
}

// The log a daemon starts with: the `logger` group applied before the warnings are logged,
// so that its file holds them; each line says its level once ("WARNING appKey: ...", not
// "WARNING warning: appKey: ...").
TEST_F(StartupChecksTest, ReportAtStartWritesTheWarningsToTheLogFileWithTheirLevelOnce) {
  SetLogName("edged");
  std::string text =
      Yaml({{"logger", "logger:\n  level: ERROR\n  publish_directory: logs\n"
                       "  publish_level: WARN\n  max_file_storage: 100000\n"}});
  CheckedConfig checked = Check(text, {Daemon::kEdged});
  ASSERT_FALSE(checked.has_errors());
  testing::internal::CaptureStderr();
  EXPECT_TRUE(ReportAtStart(checked, "edged"));
  LogInfo("below the file's WARN");
  std::string err = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(ApplyLogSettings({}).ok());  // Closes the file.
  EXPECT_EQ(err, "");  // ERROR on standard error: the warnings go to the file only.
  std::ifstream in(dir_ + "/logs/edged.log");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_FALSE(lines.empty());
  bool plaintext = false;
  for (const std::string& line : lines) {
    SCOPED_TRACE(line);
    std::vector<std::string> words = absl::StrSplit(line, ' ');
    ASSERT_GE(words.size(), 4u);
    EXPECT_EQ(words[1], "edged");
    EXPECT_EQ(words[2], "WARNING");
    for (const char* level : {"warning:", "error:", "WARNING", "WARN", "ERROR"}) {
      EXPECT_FALSE(absl::StartsWithIgnoreCase(words[3], level)) << "the level twice";
    }
    plaintext = plaintext || absl::StrContains(line, " edged WARNING appKey: secret given in "
                                                     "plaintext");
  }
  EXPECT_TRUE(plaintext) << absl::StrJoin(lines, "\n");
}

}  // namespace
}  // namespace edge::startup
