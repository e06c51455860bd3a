#include "services/common/command_line.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/common/version.h"

namespace edge {
namespace {

const FlagSpec kHelp = {"help", "", "print this help and exit"};
const FlagSpec kVersion = {"version", "", "print the version and the git commit, and exit"};

const FlagSpec* FindFlag(const CommandSpec& spec, absl::string_view name) {
  for (const FlagSpec& f : spec.flags) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::string FlagColumn(const FlagSpec& f) {
  return f.value_name.empty() ? absl::StrCat("--", f.name)
                              : absl::StrCat("--", f.name, " ", f.value_name);
}

std::string ExpectedPositional(const CommandSpec& spec) {
  const std::string& what = spec.positional_name.empty() ? "argument" : spec.positional_name;
  if (spec.max_positional == 0) return "no argument";
  if (spec.min_positional == spec.max_positional) {
    return spec.min_positional == 1 ? what : absl::StrCat(spec.min_positional, " ", what);
  }
  if (spec.min_positional == 0 && spec.max_positional == 1)
    return absl::StrCat("at most one ", what);
  return absl::StrCat(spec.min_positional, " to ", spec.max_positional, " ", what);
}

}  // namespace

bool CommandLine::Has(absl::string_view flag) const { return values_.find(flag) != values_.end(); }

std::string CommandLine::Value(absl::string_view flag, absl::string_view otherwise) const {
  auto it = values_.find(flag);
  return it == values_.end() ? std::string(otherwise) : it->second;
}

absl::StatusOr<CommandLine> ParseCommandLine(const CommandSpec& spec,
                                             const std::vector<std::string>& args) {
  CommandLine out;
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (flags_done || a == "-" || !absl::StartsWith(a, "-")) {
      out.positional_.push_back(a);
      continue;
    }
    if (a == "--") {
      flags_done = true;
      continue;
    }
    if (a == "-h") {
      out.help_ = true;
      continue;
    }
    if (!absl::StartsWith(a, "--")) {
      return absl::InvalidArgumentError(absl::StrCat("unknown option ", a));
    }
    std::string name = a.substr(2);
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (name == "help" || name == "version") {
      if (value) return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
      (name == "help" ? out.help_ : out.version_) = true;
      continue;
    }
    const FlagSpec* flag = FindFlag(spec, name);
    if (flag == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown option --", name));
    if (flag->value_name.empty()) {
      if (value) return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
      out.values_[name] = "";
      continue;
    }
    if (!value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " needs a value (", flag->value_name, ")"));
      }
      value = args[++i];
    }
    out.values_[name] = *value;
  }
  if (!out.help_ && !out.version_ &&
      (out.positional_.size() < spec.min_positional ||
       out.positional_.size() > spec.max_positional)) {
    if (spec.max_positional == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument \"", out.positional_.front(), "\""));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("expected ", ExpectedPositional(spec), ", found ", out.positional_.size(),
                     out.positional_.size() == 1 ? " argument" : " arguments"));
  }
  return out;
}

std::string Usage(const CommandSpec& spec) {
  std::string out = absl::StrCat("usage: ", spec.name);
  if (!spec.synopsis.empty()) absl::StrAppend(&out, " ", spec.synopsis);
  absl::StrAppend(&out, "\n");
  if (!spec.summary.empty()) {
    absl::StrAppend(&out, "\n", spec.summary);
    if (!absl::EndsWith(spec.summary, "\n")) absl::StrAppend(&out, "\n");
  }
  std::vector<const FlagSpec*> flags;
  for (const FlagSpec& f : spec.flags) flags.push_back(&f);
  flags.push_back(&kHelp);
  flags.push_back(&kVersion);
  size_t width = 0;
  for (const FlagSpec* f : flags) width = std::max(width, FlagColumn(*f).size());
  absl::StrAppend(&out, "\noptions:\n");
  for (const FlagSpec* f : flags) {
    std::string column = FlagColumn(*f);
    absl::StrAppend(&out, "  ", column, std::string(width - column.size() + 2, ' '), f->help, "\n");
  }
  return out;
}

std::string VersionLine(absl::string_view name) {
  std::vector<absl::string_view> words = absl::StrSplit(name, ' ');
  return absl::StrCat(words.front(), " ", BuildVersion(), " (commit ", BuildCommit(), ")");
}

std::optional<int> AnswerHelpVersionOrError(const CommandSpec& spec,
                                            const absl::StatusOr<CommandLine>& args,
                                            std::ostream& out, std::ostream& err) {
  if (!args.ok()) {
    err << spec.name << ": " << args.status().message() << "\n" << Usage(spec);
    return 2;
  }
  if (args->help()) {
    out << Usage(spec);
    return 0;
  }
  if (args->version()) {
    out << VersionLine(spec.name) << "\n";
    return 0;
  }
  return std::nullopt;
}

}  // namespace edge
