// restd as a real process in front of edged, trustd and the platform simulator, driven by
// curl over HTTPS; an HTTPS edge endpoint (an LSR stand-in) behind auto_bind.
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "services/json/json.h"
#include "services/common/file_util.h"
#include "tests/testing/curl.h"
#include "tests/testing/edge_stack.h"

namespace edge {
namespace {

namespace json = ::edge::json;
using testing::EdgeStack;
using testing::RecordsOfKind;
using testing::StackConfig;
using testing::Subprocess;
using testing::WaitFor;

using testing::CurlResult;

class RestdTest : public ::testing::Test {
 protected:
  // trustd, edged, restd and the simulator; an HTTPS endpoint behind auto_bind "Lsr1".
  void StartAll(std::string certificates = "", std::string extra = "") {
    ASSERT_TRUE(stack_.StartSim().ok());
    absl::StatusOr<int> endpoint = stack_.StartEndpoint("platform.pem", "platform.key", "lsr",
                                                        "lsr secret");
    ASSERT_TRUE(endpoint.ok()) << endpoint.status();
    port_ = EdgeStack::FreePort();
    StackConfig config;
    config.http_server = stack_.RestHttpServer(port_);
    config.auto_bind = absl::StrCat(
        "auto_bind:\n  - name: Pump1\n  - name: Lsr1\n    host: localhost\n    port: ", *endpoint,
        "\n    protocol: https\n    user: lsr\n    password: \"", stack_.Seal("lsr secret"),
        "\"\n    timeout: 5000\n");
    if (!certificates.empty()) config.certificates = certificates;
    config.extra = absl::StrCat("restd:\n  health_check_interval: 500\n", extra);
    absl::Status s = stack_.WriteConfig(config);
    if (s.ok()) s = stack_.StartTrustd();
    if (s.ok()) s = stack_.StartEdged();
    if (s.ok()) s = stack_.StartRestd(wrapper_);
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_TRUE(WaitFor([&] { return Get("/Thingworx/Things/SystemRepository/Properties/name").code == 200; },
                        absl::Seconds(20)))
        << stack_.edged()->Log() << stack_.restd()->Log();
  }

  CurlResult Curl(const std::vector<std::string>& args) {
    return testing::Curl(stack_.dir(), args, stack_.dir() + "/ca.pem");
  }
  std::string Url(const std::string& path) { return absl::StrCat("https://localhost:", port_, path); }
  std::vector<std::string> Auth() {
    return {"-u", absl::StrCat(testing::kStackRestUser, ":", testing::kStackRestPassword)};
  }
  CurlResult Get(const std::string& path) {
    std::vector<std::string> args = Auth();
    args.push_back(Url(path));
    return Curl(args);
  }
  // A modifying request with a fresh CSRF token.
  CurlResult Send(const std::string& method, const std::string& path, const std::string& body) {
    std::string token = Get("/Thingworx/Things/SystemRepository/Properties/name").Header("x-csrf-token");
    std::vector<std::string> args = Auth();
    std::string file = stack_.dir() + "/curl.request";
    std::ofstream(file, std::ios::binary) << body;
    args.insert(args.end(), {"-X", method, "-H", "Content-Type: application/json", "-H",
                             "Accept: application/json", "-H", "x-csrf-token: " + token,
                             "--data-binary", "@" + file, Url(path)});
    return Curl(args);
  }
  json::Value CallPlatform(const std::string& request) {
    auto r = stack_.sim()->Call(request);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : json::Value{};
  }

  EdgeStack stack_;
  int port_ = 0;
  std::vector<std::string> wrapper_;
};

TEST_F(RestdTest, PutArrivesGetAnswersAndAuthIsEnforced) {
  StartAll();
  CurlResult put = Send("PUT", "/Thingworx/Things/Pump1/Properties/Temperature",
                        R"({"Temperature": 21.5})");
  ASSERT_EQ(put.code, 200) << put.body;
  auto records = stack_.sim()->Records();
  ASSERT_TRUE(records.ok());
  auto writes = RecordsOfKind(*records, "write");
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(writes[0].Find("thing")->str(), "Pump1");
  EXPECT_EQ(writes[0].Find("baseType")->str(), "NUMBER");
  EXPECT_EQ(writes[0].Find("value")->number(), 21.5);

  CurlResult get = Get("/Thingworx/Things/Pump1/Properties/Temperature");
  ASSERT_EQ(get.code, 200) << get.body;
  auto table = json::Parse(get.body);
  ASSERT_TRUE(table.ok()) << get.body;
  EXPECT_EQ(table->Find("rows")->array()[0].Find("Temperature")->number(), 21.5);
  EXPECT_EQ(table->Find("dataShape")->Find("fieldDefinitions")->Find("Temperature")
                ->Find("baseType")->str(), "NUMBER");
  EXPECT_EQ(get.Header("content-type"), "application/json");
  EXPECT_EQ(get.Header("x-csrf-token").size(), 32u);

  CurlResult all = Get("/Thingworx/Things/Pump1/Properties");
  ASSERT_EQ(all.code, 200) << all.body;
  EXPECT_TRUE(absl::StrContains(all.body, "\"Temperature\":21.5")) << all.body;

  // 401: wrong password, a user name with ':', no credentials, a missing CSRF token.
  CurlResult wrong = Curl({"-u", "admin:wrong", Url("/Thingworx/Things/Pump1/Properties/Temperature")});
  EXPECT_EQ(wrong.code, 401);
  EXPECT_TRUE(absl::StartsWith(wrong.Header("www-authenticate"), "Basic")) << wrong.headers;
  CurlResult colon = Curl({"-u", absl::StrCat("ad:min:", testing::kStackRestPassword),
                           Url("/Thingworx/Things/Pump1/Properties/Temperature")});
  EXPECT_EQ(colon.code, 401);
  EXPECT_EQ(Curl({Url("/Thingworx/Things/Pump1/Properties/Temperature")}).code, 401);
  std::vector<std::string> no_token = Auth();
  no_token.insert(no_token.end(), {"-X", "PUT", "-H", "Content-Type: application/json",
                                   "--data-binary", R"({"Temperature": 1})",
                                   Url("/Thingworx/Things/Pump1/Properties/Temperature")});
  CurlResult csrf = Curl(no_token);
  EXPECT_EQ(csrf.code, 401);
  EXPECT_TRUE(absl::StrContains(csrf.body, "x-csrf-token")) << csrf.body;
  no_token.insert(no_token.end() - 1, {"-H", "x-csrf-token: 00000000000000000000000000000000"});
  EXPECT_EQ(Curl(no_token).code, 401);
  EXPECT_EQ(RecordsOfKind(*stack_.sim()->Records(), "write").size(), 1u)
      << "nothing refused reached the platform";

  // Errors as statuses with a short JSON body.
  CurlResult bad = Send("PUT", "/Thingworx/Things/Pump1/Properties/Temperature", "{not json");
  EXPECT_EQ(bad.code, 400);
  EXPECT_TRUE(absl::StrContains(bad.body, "body: not JSON")) << bad.body;
  CurlResult wrong_type = Send("PUT", "/Thingworx/Things/Pump1/Properties/Temperature",
                               R"({"Temperature": [1, 2]})");
  EXPECT_EQ(wrong_type.code, 400);
  EXPECT_TRUE(absl::StrContains(wrong_type.body, "body.Temperature: expected a number")) << wrong_type.body;
  CurlResult missing = Get("/Thingworx/Things/Pump1/Properties/NeverWritten");
  EXPECT_EQ(missing.code, 404) << missing.body;
  CurlResult big = Send("PUT", "/Thingworx/Things/Pump1/Properties/Manual",
                        absl::StrCat(R"({"Manual": ")", std::string(1100 * 1024, 'x'), "\"}"));
  EXPECT_EQ(big.code, 413);

  // Services and events go through too; the platform answers a service call.
  CurlResult svc = Send("POST", "/Thingworx/Things/Pump1/Services/Reset", R"({"force": true})");
  ASSERT_EQ(svc.code, 200) << svc.body;
  EXPECT_TRUE(absl::StrContains(svc.body, "\"result\":\"ok\"")) << svc.body;

  // No secret in any log.
  for (Subprocess* p : {stack_.restd(), stack_.edged(), stack_.trustd(), stack_.endpoint()}) {
    for (const char* secret : {testing::kStackRestPassword, testing::kStackKeyPassphrase,
                               testing::kStackAppKey, "lsr secret"}) {
      EXPECT_FALSE(absl::StrContains(p->Log(), secret)) << secret;
    }
  }
}

// The "error" member of a JSON error body, or the body itself when it is not one.
std::string ErrorOf(const CurlResult& r) {
  auto body = json::Parse(r.body);
  const json::Value* error = body.ok() ? body->Find("error") : nullptr;
  return error != nullptr && error->is_string() ? error->str() : r.body;
}

TEST_F(RestdTest, RefusesNumbersADoubleCannotHoldAndInvalidUtf8NamingTheField) {
  StartAll();
  struct Case {
    std::string path, body, error;
  };
  for (const Case& c : std::vector<Case>{
           {"/Thingworx/Things/Pump1/Properties/Temperature", R"({"Temperature": 1e999})",
            "body.Temperature: expected a number a double can hold (magnitude at most "
            "1.7976931348623157e308), found 1e999 (JSON at offset 16)"},
           {"/Thingworx/Things/Pump1/Properties/Temperature", R"({"Temperature": -1E400})",
            "body.Temperature: expected a number a double can hold (magnitude at most "
            "1.7976931348623157e308), found -1E400 (JSON at offset 16)"},
           {"/Thingworx/Things/Pump1/Properties/Name", "{\"Name\": \"\xC0\xAF\"}",
            "body.Name: expected UTF-8 text, found byte 0xC0 (an overlong encoding) (JSON at "
            "offset 10)"},
           {"/Thingworx/Things/Pump1/Properties/Name", "{\"Name\": \"x\xED\xA0\x80\"}",
            "body.Name: expected UTF-8 text, found bytes 0xED 0xA0 (a UTF-16 surrogate, "
            "U+D800..U+DFFF) (JSON at offset 11)"},
           {"/Thingworx/Things/Pump1/Properties/Name", "{\"Name\": \"\xF5\x80\x80\x80\"}",
            "body.Name: expected UTF-8 text, found byte 0xF5 (no UTF-8 sequence starts with it: "
            "above U+10FFFF) (JSON at offset 10)"},
           {"/Thingworx/Things/Pump1/Services/Reset",
            R"({"dataShape": {"fieldDefinitions": {"level": {"baseType": "NUMBER"}}},
                "rows": [{"level": 1e309}]})",
            "body.rows[0].level: expected a number a double can hold (magnitude at most "
            "1.7976931348623157e308), found 1e309 (JSON at offset 106)"},
       }) {
    SCOPED_TRACE(c.body);
    CurlResult r = Send(absl::StrContains(c.path, "Services") ? "POST" : "PUT", c.path, c.body);
    EXPECT_EQ(r.code, 400) << r.body;
    EXPECT_EQ(ErrorOf(r), c.error);
  }
  // A Thing name in the URL goes to edged and the platform as well. (curl percent-encodes
  // such bytes in a URL, which restd takes literally: --request-target sends them raw.)
  std::vector<std::string> raw = Auth();
  raw.insert(raw.end(), {"--request-target", "/Thingworx/Things/P\xC0\xAF/Properties/Temperature",
                         Url("/")});
  CurlResult name = Curl(raw);
  EXPECT_EQ(name.code, 400) << name.body;
  EXPECT_EQ(ErrorOf(name), "the URL's path: a Thing, property or service name: expected UTF-8 "
                           "text, found byte 0xC0 (an overlong encoding) at byte 1");
  EXPECT_EQ(RecordsOfKind(*stack_.sim()->Records(), "write").size(), 0u)
      << "nothing refused reached the platform";
  EXPECT_EQ(RecordsOfKind(*stack_.sim()->Records(), "service").size(), 0u);
}

TEST_F(RestdTest, RefusesMoreFieldsThanAnInfotableMayHaveNamingTheLimit) {
  StartAll();
  // The report's 20,000 fields, as parameters and as an infotable.
  std::string parameters = "{";
  std::string defs;
  for (int i = 0; i < 20000; ++i) {
    absl::StrAppend(&parameters, i ? "," : "", "\"p", i, "\":", i);
    absl::StrAppend(&defs, i ? "," : "", "\"f", i, "\":{\"baseType\":\"NUMBER\"}");
  }
  parameters += "}";
  CurlResult flat = Send("POST", "/Thingworx/Things/Pump1/Services/Reset", parameters);
  EXPECT_EQ(flat.code, 400) << flat.body;
  EXPECT_EQ(ErrorOf(flat), "body: expected at most 1000 parameters (the limit of fields for one "
                           "infotable), found 20000");
  CurlResult table = Send("POST", "/Thingworx/Things/Pump1/Services/Reset",
                          absl::StrCat("{\"dataShape\":{\"fieldDefinitions\":{", defs,
                                       "}},\"rows\":[{}]}"));
  EXPECT_EQ(table.code, 400) << table.body;
  EXPECT_EQ(ErrorOf(table), "body.dataShape.fieldDefinitions: expected at most 1000 field "
                            "definitions (the limit for one infotable), found 20000");
}

TEST_F(RestdTest, FailedLoginsAreLoggedAndHeldButACorrectLoginIsNot) {
  StartAll();
  auto fail = [&](const std::string& dir, int n) {
    return testing::Curl(dir, {"-u", absl::StrCat("admin:wrong-guess-", n),
                               Url("/Thingworx/Things/Pump1/Properties/Temperature")},
                         stack_.dir() + "/ca.pem");
  };
  // Three answered at once, then held 100 ms, 200 ms, 400 ms...
  for (int n = 1; n <= 4; ++n) EXPECT_EQ(fail(stack_.dir(), n).code, 401);
  absl::Time start = absl::Now();
  EXPECT_EQ(fail(stack_.dir(), 5).code, 401);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(200)) << "the fifth 401 is held";
  EXPECT_TRUE(stack_.restd()->WaitForLog(
      "failed login for user \"admin\" from 127.0.0.1: 1 in a row\n", absl::Seconds(5)))
      << stack_.restd()->Log();
  EXPECT_TRUE(stack_.restd()->WaitForLog(
      "failed login for user \"admin\" from 127.0.0.1: 5 in a row, the 401 is held 200ms",
      absl::Seconds(5)));

  // A seventh failure is held 800 ms; a correct login sent meanwhile is answered first.
  EXPECT_EQ(fail(stack_.dir(), 6).code, 401);
  std::string other = stack_.dir() + "/held";
  ASSERT_EQ(::mkdir(other.c_str(), 0700), 0);
  absl::Time held_done;
  CurlResult held;
  std::thread attacker([&] {
    held = fail(other, 7);
    held_done = absl::Now();
  });
  ASSERT_TRUE(stack_.restd()->WaitForLog("7 in a row, the 401 is held 800ms", absl::Seconds(10)));
  CurlResult ok = Get("/Thingworx/Things/SystemRepository/Properties/name");
  absl::Time ok_done = absl::Now();
  attacker.join();
  EXPECT_EQ(ok.code, 200);
  EXPECT_EQ(held.code, 401);
  EXPECT_LT(ok_done, held_done) << "the correct login waited for the held failure";

  // The success started the count again; a forged user name is logged escaped.
  EXPECT_EQ(Curl({"-u", "ev\x1b[31mil\rINFO forged:x", Url("/Thingworx/Things/Pump1/Properties")})
                .code,
            401);
  EXPECT_TRUE(stack_.restd()->WaitForLog(
      "failed login for user \"ev\\x1b[31mil\\rINFO forged\" from 127.0.0.1: 1 in a row\n",
      absl::Seconds(5)))
      << stack_.restd()->Log();
  std::string log = stack_.restd()->Log();
  EXPECT_FALSE(absl::StrContains(log, "\x1b")) << "no control character reaches the log";
  // Counted: eight failures so far, read as a LocalEms property.
  CurlResult count = Get("/Thingworx/Things/LocalEms/Properties/failedLogins");
  EXPECT_EQ(count.code, 200) << count.body;
  EXPECT_TRUE(absl::StrContains(count.body, R"("failedLogins":8)")) << count.body;
  EXPECT_FALSE(absl::StrContains(log, "wrong-guess")) << "no password in the log";
  EXPECT_FALSE(absl::StrContains(log, testing::kStackRestPassword));
}

TEST_F(RestdTest, PlatformUnreachableGives503ForReadsAnd202ForQueuedWrites) {
  StartAll();
  ASSERT_TRUE(stack_.sim()->Refuse(600000).ok());
  ASSERT_TRUE(WaitFor([&] { return Get("/Thingworx/Things/SystemRepository/Properties/name").code == 503; },
                      absl::Seconds(10)));
  CurlResult read = Get("/Thingworx/Things/Pump1/Properties/Temperature");
  EXPECT_EQ(read.code, 503);
  EXPECT_TRUE(absl::StrContains(read.body, "unreachable")) << read.body;
  CurlResult queued = Send("PUT", "/Thingworx/Things/Pump1/Properties/Level", R"({"Level": 3})");
  EXPECT_EQ(queued.code, 202) << queued.body;
  EXPECT_TRUE(absl::StrContains(queued.body, "\"queued\": true")) << queued.body;
  ASSERT_TRUE(stack_.sim()->Refuse(0).ok());
  ASSERT_TRUE(WaitFor([&] { return RecordsOfKind(*stack_.sim()->Records(), "write").size() == 1; },
                      absl::Seconds(20)));
}

// LocalEms is the gateway itself: restd answers its properties from edged's state, also
// while the platform is unreachable (EMS users poll isConnected), and never asks the
// platform about it.
TEST_F(RestdTest, LocalEmsPropertiesAreAnsweredByRestdAlsoWhileOffline) {
  StartAll();
  auto value = [&](const std::string& name) -> json::Value {
    CurlResult r = Get("/Thingworx/Things/LocalEms/Properties/" + name);
    EXPECT_EQ(r.code, 200) << r.body;
    absl::StatusOr<json::Value> t = json::Parse(r.body);
    if (!t.ok() || t->Find("rows") == nullptr || t->Find("rows")->array().empty()) return {};
    const json::Value* v = t->Find("rows")->array()[0].Find(name);
    return v ? *v : json::Value{};
  };
  ASSERT_TRUE(value("isConnected").is_bool());
  EXPECT_TRUE(value("isConnected").boolean());
  EXPECT_EQ(value("connectedServer").str(), absl::StrCat("localhost:", stack_.sim()->ws_port()));
  CurlResult all = Get("/Thingworx/Things/LocalEms/Properties");
  ASSERT_EQ(all.code, 200) << all.body;
  for (const char* name : {"isConnected", "connectedServer", "queueDepth", "lastError"}) {
    EXPECT_TRUE(absl::StrContains(all.body, absl::StrCat("\"", name, "\""))) << name << all.body;
  }

  ASSERT_TRUE(stack_.sim()->Refuse(600000).ok());
  ASSERT_TRUE(WaitFor([&] { return value("isConnected").is_bool() && !value("isConnected").boolean(); },
                      absl::Seconds(10)));
  CurlResult queued = Send("PUT", "/Thingworx/Things/Pump1/Properties/Level", R"({"Level": 3})");
  ASSERT_EQ(queued.code, 202) << queued.body;
  EXPECT_EQ(value("queueDepth").number(), 1);
  EXPECT_FALSE(value("lastError").str().empty());

  CurlResult unknown = Get("/Thingworx/Things/LocalEms/Properties/Nope");
  EXPECT_EQ(unknown.code, 404);
  EXPECT_TRUE(absl::StrContains(unknown.body, "isConnected")) << "names what there is: " << unknown.body;
  EXPECT_EQ(Send("PUT", "/Thingworx/Things/LocalEms/Properties/isConnected", R"({"isConnected": true})").code,
            405);
  ASSERT_TRUE(stack_.sim()->Refuse(0).ok());
  ASSERT_TRUE(WaitFor([&] { return value("isConnected").is_bool() && value("isConnected").boolean(); },
                      absl::Seconds(20)));
  absl::StatusOr<json::Value> records = stack_.sim()->Records();
  ASSERT_TRUE(records.ok());
  EXPECT_FALSE(absl::StrContains(json::Write(*records), "LocalEms")) << "never asked the platform";
}

// AddEdgeThing as EMS documents it: {"name", "persist"}; with persist the Thing survives a
// restart (kept under restd.state_directory); RemoveEdgeThing takes it away; GetEdgeThings
// shows each Thing's state, so a Thing whose endpoint does not answer is never unbound in
// silence.
TEST_F(RestdTest, AddEdgeThingPersistsAcrossARestartAndRemoveEdgeThingUnbinds) {
  const std::string state = stack_.dir() + "/restd-state";
  StartAll("", absl::StrCat("  state_directory: ", state, "\n"));
  const std::string add = "/Thingworx/Things/LocalEms/Services/AddEdgeThing";
  const std::string remove = "/Thingworx/Things/LocalEms/Services/RemoveEdgeThing";
  const std::string list = "/Thingworx/Things/LocalEms/Services/GetEdgeThings";
  auto row_of = [&](const std::string& name) -> json::Value {
    CurlResult r = Send("POST", list, "{}");
    EXPECT_EQ(r.code, 200) << r.body;
    absl::StatusOr<json::Value> t = json::Parse(r.body);
    if (!t.ok() || t->Find("rows") == nullptr) return {};
    for (const json::Value& row : t->Find("rows")->array()) {
      if (row.Find("name") && row.Find("name")->str() == name) return row;
    }
    return {};
  };

  // What AddEdgeThing does not take is refused, naming it.
  CurlResult typo = Send("POST", add, R"({"name": "Kept1", "persistt": true})");
  EXPECT_EQ(typo.code, 400);
  EXPECT_TRUE(absl::StrContains(typo.body, "body.persistt")) << typo.body;
  CurlResult not_bool = Send("POST", add, R"({"name": "Kept1", "persist": "yes"})");
  EXPECT_EQ(not_bool.code, 400);
  EXPECT_TRUE(absl::StrContains(not_bool.body, "body.persist")) << not_bool.body;
  CurlResult configured = Send("POST", add, R"({"name": "Lsr1"})");
  EXPECT_EQ(configured.code, 409) << configured.body;
  EXPECT_TRUE(absl::StrContains(configured.body, "auto_bind")) << configured.body;

  ASSERT_EQ(Send("POST", add, R"({"name": "Kept1", "persist": true})").code, 200);
  ASSERT_EQ(Send("POST", add, R"({"name": "Passing1"})").code, 200);
  json::Value kept = row_of("Kept1");
  ASSERT_TRUE(kept.is_object()) << "GetEdgeThings lists it";
  EXPECT_EQ(kept.Find("source")->str(), "AddEdgeThing");
  EXPECT_TRUE(kept.Find("persist")->boolean());
  EXPECT_EQ(kept.Find("endpoint")->str(), "http://localhost:8001");
  // Nothing answers on the LSR's default port here: the Thing is withdrawn, and that is
  // said, in the log and in GetEdgeThings.
  ASSERT_TRUE(stack_.restd()->WaitForLog("auto_bind Kept1: http://localhost:8001 is gone",
                                         absl::Seconds(10)));
  // The health check records its error before the Thing's state: wait for both.
  EXPECT_TRUE(WaitFor(
      [&] {
        json::Value row = row_of("Kept1");
        return !row.Find("lastError")->str().empty() && !row.Find("bound")->boolean();
      },
      absl::Seconds(10)))
      << "Kept1 still bound after its endpoint was found gone";

  // A restart of restd (and of edged): the persisted Thing is served again, the other not.
  stack_.restd()->Kill(SIGTERM);
  stack_.edged()->Kill(SIGTERM);
  ASSERT_TRUE(stack_.StartEdged().ok());
  ASSERT_TRUE(stack_.StartRestd().ok());
  EXPECT_TRUE(stack_.restd()->WaitForLog("served again: Kept1", absl::Seconds(10)))
      << stack_.restd()->Log();
  ASSERT_TRUE(WaitFor([&] { return Get("/Thingworx/Things/SystemRepository/Properties/name").code == 200; },
                      absl::Seconds(20)));
  EXPECT_TRUE(row_of("Kept1").is_object());
  EXPECT_FALSE(row_of("Passing1").is_object()) << "not persisted";

  // RemoveEdgeThing: gone now and after the next restart; auto_bind Things stay.
  EXPECT_EQ(Send("POST", remove, R"({"name": "Lsr1"})").code, 409);
  EXPECT_EQ(Send("POST", remove, R"({"name": "Never1"})").code, 404);
  ASSERT_EQ(Send("POST", remove, R"({"name": "Kept1"})").code, 200);
  // (edged unbinds it on the platform a moment later.)
  EXPECT_TRUE(WaitFor([&] { return !row_of("Kept1").is_object(); }, absl::Seconds(10)));
  stack_.restd()->Kill(SIGTERM);
  ASSERT_TRUE(stack_.StartRestd().ok());
  ASSERT_TRUE(WaitFor([&] { return Get("/Thingworx/Things/SystemRepository/Properties/name").code == 200; },
                      absl::Seconds(20)));
  // (edged drops what the old restd's stream had bound a moment after that stream ended.)
  EXPECT_TRUE(WaitFor([&] { return !row_of("Kept1").is_object(); }, absl::Seconds(10)))
      << json::Write(row_of("Kept1")) << stack_.restd()->Log();
  EXPECT_TRUE(row_of("Lsr1").is_object());
}

// The state directory cannot be written: AddEdgeThing with persist says so and keeps
// nothing, rather than answering 200 and losing the Thing at the next restart.
TEST_F(RestdTest, AddEdgeThingThatCannotBePersistedIsRefusedNamingTheDirectory) {
  const std::string blocked = stack_.dir() + "/not-a-directory";
  std::ofstream(blocked) << "a file where the state directory should be\n";
  StartAll("", absl::StrCat("  state_directory: ", blocked, "/restd\n"));
  CurlResult r = Send("POST", "/Thingworx/Things/LocalEms/Services/AddEdgeThing",
                      R"({"name": "Kept2", "persist": true})");
  EXPECT_EQ(r.code, 503) << r.body;
  EXPECT_TRUE(absl::StrContains(r.body, "restd.state_directory")) << r.body;
  CurlResult list = Send("POST", "/Thingworx/Things/LocalEms/Services/GetEdgeThings", "{}");
  EXPECT_FALSE(absl::StrContains(list.body, "Kept2")) << list.body;
}

TEST_F(RestdTest, AutoBindThingIsServedEndToEndOverHttps) {
  StartAll();
  // edged binds Lsr1 from the config at once; restd serves it once its endpoint answered.
  ASSERT_TRUE(stack_.edged()->WaitForLog("serves Lsr1", absl::Seconds(10)))
      << stack_.edged()->Log();
  json::Value answer = CallPlatform(
      R"({"thing": "Lsr1", "method": "POST", "characteristic": "Services", "name": "Reset",
          "params": {"dataShape": {"fieldDefinitions": {"level": {"name": "level",
          "baseType": "NUMBER"}}}, "rows": [{"level": 2}]}})");
  ASSERT_EQ(answer.Find("status")->str(), "SUCCESS") << json::Write(answer);
  EXPECT_EQ(answer.Find("content")->Find("rows")->array()[0].Find("result")->str(),
            R"(Reset done on Lsr1 with {"level":2})");
  json::Value write = CallPlatform(
      R"({"thing": "Lsr1", "method": "PUT", "name": "Speed",
          "params": {"dataShape": {"fieldDefinitions": {"Speed": {"name": "Speed",
          "baseType": "NUMBER"}}}, "rows": [{"Speed": 1200}]}})");
  ASSERT_EQ(write.Find("status")->str(), "SUCCESS") << json::Write(write);
  json::Value read = CallPlatform(R"({"thing": "Lsr1", "method": "GET", "name": "Speed"})");
  ASSERT_EQ(read.Find("status")->str(), "SUCCESS") << json::Write(read);
  EXPECT_EQ(read.Find("content")->Find("rows")->array()[0].Find("Speed")->number(), 1200);
  EXPECT_TRUE(absl::StrContains(stack_.endpoint()->Log(),
                                "PUT /Thingworx/Things/Lsr1/Properties/Speed -> 200"));

  // The endpoint goes away: its Thing is unbound; it comes back: bound again.
  stack_.endpoint()->Kill(SIGKILL);
  ASSERT_TRUE(stack_.restd()->WaitForLog("auto_bind Lsr1", absl::Seconds(10)));
  ASSERT_TRUE(WaitFor(
      [&] { return !absl::StrContains(json::Write(*stack_.sim()->Status()), "\"Lsr1\""); },
      absl::Seconds(10)));
}

TEST_F(RestdTest, EndpointNotOnTheFingerprintAllowlistIsRefused) {
  // Chain and name are fine; the allowlist names another certificate.
  StartAll(absl::StrCat("certificates:\n  cert_chain: ca.pem\n  fingerprint_allowlist:\n    - \"",
                        stack_.rest().Sha256(), "\"\n"));
  // edged binds Lsr1 from the config at once; restd serves it once its endpoint answered.
  ASSERT_TRUE(stack_.edged()->WaitForLog("serves Lsr1", absl::Seconds(10)))
      << stack_.edged()->Log();
  json::Value answer = CallPlatform(R"({"thing": "Lsr1", "method": "GET", "name": "Speed"})");
  EXPECT_EQ(answer.Find("status")->str(), "BAD_GATEWAY") << json::Write(answer);
  EXPECT_TRUE(absl::StrContains(answer.Find("reason")->str(),
                                "edge endpoint certificate refused: NOT_ALLOWLISTED"))
      << json::Write(answer);
  EXPECT_TRUE(stack_.restd()->WaitForLog("edge endpoint certificate refused: NOT_ALLOWLISTED",
                                         absl::Seconds(5)));
  EXPECT_FALSE(absl::StrContains(stack_.endpoint()->Log(), "/Thingworx/Things/Lsr1"))
      << "no request went to the refused endpoint";
}

TEST_F(RestdTest, ServesTlsWithoutEverOpeningTheKeyFile) {
  const char* strace = "/usr/bin/strace";
  bool have_strace = ::access(strace, X_OK) == 0;
  std::string trace = stack_.dir() + "/restd.strace";
  if (have_strace) wrapper_ = {strace, "-f", "-qq", "-e", "trace=open,openat,openat2", "-o", trace};
  StartAll();
  CurlResult get = Get("/Thingworx/Things/SystemRepository/Properties/name");
  ASSERT_EQ(get.code, 200);
  pid_t pid = stack_.restd()->pid();
  // Every file restd holds open now.
  std::string fd_dir = absl::StrCat("/proc/", pid, "/fd");
  if (have_strace) {
    // The traced process is strace; restd is its child.
    std::string children = ReadFile(absl::StrCat("/proc/", pid, "/task/", pid, "/children")).value_or("");
    if (!children.empty()) fd_dir = absl::StrCat("/proc/", std::atoi(children.c_str()), "/fd");
  }
  DIR* d = ::opendir(fd_dir.c_str());
  ASSERT_NE(d, nullptr) << fd_dir;
  int checked = 0;
  while (dirent* e = ::readdir(d)) {
    char target[4096];
    ssize_t n = ::readlink(absl::StrCat(fd_dir, "/", e->d_name).c_str(), target, sizeof(target));
    if (n <= 0) continue;
    ++checked;
    EXPECT_FALSE(absl::StrContains(std::string(target, n), "restd.key")) << target;
  }
  ::closedir(d);
  EXPECT_GT(checked, 3);
  if (!have_strace) {
    GTEST_SKIP() << "strace is not installed: checked /proc/" << pid << "/fd only";
  }
  std::string opens = ReadFile(trace).value_or("");
  EXPECT_TRUE(absl::StrContains(opens, "config.yaml")) << "the trace sees restd's opens";
  EXPECT_FALSE(absl::StrContains(opens, "restd.key")) << opens;
  // trustd, which does read it, holds the identity restd serves.
  EXPECT_TRUE(absl::StrContains(stack_.trustd()->Log(), "serving"));
}

}  // namespace
}  // namespace edge
