// CommandLine: the flags, usage text and version of a command. trustd, edged, restd and
// every trustctl command describe themselves with a CommandSpec, so that all of them answer
// `--help`, `--version` and a wrong flag the same way.
//
//   const CommandSpec kSpec = {"edged", "--config FILE", "Keeps the platform session.",
//                              {{"config", "FILE", "the configuration file"}}};
//   absl::StatusOr<CommandLine> args = ParseCommandLine(kSpec, {argv + 1, argv + argc});
//   if (std::optional<int> done = AnswerHelpVersionOrError(kSpec, args, std::cout, std::cerr)) {
//     return *done;  // --help, --version (0) or a wrong command line (2, usage on stderr).
//   }
//   std::string config = args->Value("config");
//
// Flags are `--name VALUE`, `--name=VALUE` or, for a switch, `--name`. `-h` is `--help`;
// `--` ends the flags; `-` alone is a positional argument (standard input).
#ifndef SERVICES_COMMON_COMMAND_LINE_H_
#define SERVICES_COMMON_COMMAND_LINE_H_

#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace edge {

struct FlagSpec {
  std::string name;        // "config" for --config.
  std::string value_name;  // "FILE"; empty for a switch that takes no value (--json).
  std::string help;        // One line.
};

struct CommandSpec {
  std::string name;             // "trustd", or "trustctl verify" for a subcommand.
  std::string synopsis;         // What follows the name in the usage line: "--config FILE".
  std::string summary;          // What the command does: a few lines, already wrapped.
  std::vector<FlagSpec> flags;  // --help and --version are added by this library.
  size_t min_positional = 0;
  size_t max_positional = 0;
  std::string positional_name;  // For "expected FILE": "FILE", "CHAIN.pem".
};

class CommandLine {
 public:
  bool help() const { return help_; }
  bool version() const { return version_; }
  // Whether the flag was given (with a value, or as a switch).
  bool Has(absl::string_view flag) const;
  // The flag's value; `otherwise` when it was not given.
  std::string Value(absl::string_view flag, absl::string_view otherwise = "") const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  friend absl::StatusOr<CommandLine> ParseCommandLine(const CommandSpec&,
                                                      const std::vector<std::string>&);
  bool help_ = false;
  bool version_ = false;
  std::map<std::string, std::string, std::less<>> values_;
  std::vector<std::string> positional_;
};

// kInvalidArgument naming the offending argument ("unknown option --nme", "--config needs a
// value (FILE)", "expected FILE, found 2 arguments"). With --help or --version the
// positional count is not checked.
absl::StatusOr<CommandLine> ParseCommandLine(const CommandSpec& spec,
                                             const std::vector<std::string>& args);

// "usage: NAME SYNOPSIS", the summary, and every flag with its help (--help, --version too).
std::string Usage(const CommandSpec& spec);

// "NAME VERSION (commit C)" for the program `name`: the version and the git commit this
// binary was built from ("unknown" when it was built outside a git work tree).
std::string VersionLine(absl::string_view name);

// The answers every command gives the same way: the usage on `out` for --help (0), the
// version line on `out` for --version (0), "NAME: <problem>" and the usage on `err` for a
// wrong command line (2). nullopt: the command line is fine, run the command.
std::optional<int> AnswerHelpVersionOrError(const CommandSpec& spec,
                                            const absl::StatusOr<CommandLine>& args,
                                            std::ostream& out, std::ostream& err);

}  // namespace edge

#endif  // SERVICES_COMMON_COMMAND_LINE_H_
