// Diagnostic: one problem found in a configuration file, with the field it is about.
//
//   error: certificates.fingerprint_allowlist: expected at least one SHA-256 fingerprint,
//   found an empty list
#ifndef SERVICES_CONFIG_DIAGNOSTIC_H_
#define SERVICES_CONFIG_DIAGNOSTIC_H_

#include <string>
#include <vector>

namespace edge::config {

struct Diagnostic {
  // kUnsupported: a group or key this stack does not implement (EMS's `tunnel`, an unknown
  // key). The daemons start and ignore it, as they do a warning; check-config lists these
  // apart and does not call the file valid.
  enum class Severity { kError, kWarning, kUnsupported };
  Severity severity;
  std::string path;     // "auto_bind[2].port"; empty for the file as a whole.
  std::string message;  // What was expected and what was found. Never a secret value.

  // One line: "error: <path>: <message>" (or "warning: ..."; kUnsupported is a warning whose
  // message says "not supported by this stack").
  std::string ToString() const;
  // For a log line, which says its level itself: "<path>: <message>" (ToString without
  // "error: " or "warning: ").
  std::string ToLogMessage() const;
};

class Diagnostics {
 public:
  void Error(std::string path, std::string message);
  void Warning(std::string path, std::string message);
  // "not supported by this stack: <why>" at `path`.
  void Unsupported(std::string path, std::string why);
  bool has_errors() const;
  const std::vector<Diagnostic>& all() const { return all_; }
  std::vector<Diagnostic> Take() { return std::move(all_); }

 private:
  std::vector<Diagnostic> all_;
};

}  // namespace edge::config

#endif  // SERVICES_CONFIG_DIAGNOSTIC_H_
