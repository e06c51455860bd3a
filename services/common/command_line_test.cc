#include "services/common/command_line.h"

#include <sstream>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "services/common/version.h"

namespace edge {
namespace {

CommandSpec Verify() {
  CommandSpec spec;
  spec.name = "trustctl verify";
  spec.synopsis = "--purpose P [--name HOST] [--json] CHAIN.pem";
  spec.summary = "The trust decision for a peer chain.";
  spec.flags = {{"purpose", "P", "platform, edge or client"},
                {"name", "HOST", "the host name the peer must have"},
                {"json", "", "print one JSON object"}};
  spec.min_positional = 1;
  spec.max_positional = 1;
  spec.positional_name = "CHAIN.pem";
  return spec;
}

TEST(CommandLineTest, ReadsFlagsInEveryFormAndPositionals) {
  auto args =
      ParseCommandLine(Verify(), {"--purpose", "edge", "--name=lsr.local", "--json", "chain.pem"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->Value("purpose"), "edge");
  EXPECT_EQ(args->Value("name"), "lsr.local");
  EXPECT_TRUE(args->Has("json"));
  EXPECT_FALSE(args->Has("config"));
  EXPECT_EQ(args->Value("config", "default"), "default");
  EXPECT_EQ(args->positional(), std::vector<std::string>{"chain.pem"});
}

TEST(CommandLineTest, TakesADashAndAnythingAfterDoubleDashAsPositional) {
  CommandSpec spec = Verify();
  spec.max_positional = 2;
  auto args = ParseCommandLine(spec, {"-", "--", "--name"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->positional(), (std::vector<std::string>{"-", "--name"}));
}

TEST(CommandLineTest, NamesWhatIsWrongWithACommandLine) {
  struct Case {
    std::vector<std::string> args;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {{"--nme", "x", "c.pem"}, "unknown option --nme"},
      {{"-x", "c.pem"}, "unknown option -x"},
      {{"c.pem", "--purpose"}, "--purpose needs a value (P)"},
      {{"--json=yes", "c.pem"}, "--json takes no value"},
      {{"--purpose", "edge"}, "expected CHAIN.pem, found 0 arguments"},
      {{"a.pem", "b.pem"}, "expected CHAIN.pem, found 2 arguments"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.expected);
    auto args = ParseCommandLine(Verify(), c.args);
    ASSERT_FALSE(args.ok());
    EXPECT_EQ(args.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(args.status().message(), c.expected);
  }
}

TEST(CommandLineTest, UsageListsEveryFlagWithItsHelpAndTheStandardOnes) {
  std::string usage = Usage(Verify());
  EXPECT_TRUE(absl::StartsWith(
      usage, "usage: trustctl verify --purpose P [--name HOST] [--json] CHAIN.pem\n"))
      << usage;
  for (const char* line :
       {"  --purpose P  platform, edge or client\n",
        "  --name HOST  the host name the peer must have\n",
        "  --json       print one JSON object\n", "  --help       print this help and exit\n",
        "  --version    print the version and the git commit, and exit\n"}) {
    EXPECT_NE(usage.find(line), std::string::npos) << line << "\nin:\n" << usage;
  }
}

TEST(CommandLineTest, AnswersHelpVersionAndAWrongFlagWithoutRunning) {
  struct Case {
    std::vector<std::string> args;
    std::optional<int> exit_code;
    std::string out_starts;
    std::string err_starts;
  };
  std::string version = std::string("trustctl ") + std::string(BuildVersion()) + " (commit ";
  const std::vector<Case> cases = {
      {{"--help"}, 0, "usage: trustctl verify ", ""},
      {{"-h"}, 0, "usage: trustctl verify ", ""},
      {{"--version"}, 0, version, ""},
      {{"--bogus", "c.pem"},
       2,
       "",
       "trustctl verify: unknown option --bogus\nusage: trustctl verify "},
      {{"--purpose", "edge", "c.pem"}, std::nullopt, "", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.args[0]);
    std::ostringstream out, err;
    EXPECT_EQ(AnswerHelpVersionOrError(Verify(), ParseCommandLine(Verify(), c.args), out, err),
              c.exit_code);
    EXPECT_TRUE(absl::StartsWith(out.str(), c.out_starts)) << out.str();
    EXPECT_TRUE(absl::StartsWith(err.str(), c.err_starts)) << err.str();
    if (c.out_starts.empty()) {
      EXPECT_EQ(out.str(), "");
    }
    if (c.err_starts.empty()) {
      EXPECT_EQ(err.str(), "");
    }
  }
}

TEST(VersionTest, HasAVersionAndACommitOrUnknown) {
  EXPECT_FALSE(BuildVersion().empty());
  EXPECT_FALSE(BuildCommit().empty());
  EXPECT_EQ(VersionLine("trustd"), "trustd " + std::string(BuildVersion()) + " (commit " +
                                       std::string(BuildCommit()) + ")");
}

}  // namespace
}  // namespace edge
