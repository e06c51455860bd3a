#include "services/config/diagnostic.h"

#include "absl/strings/str_cat.h"

namespace edge::config {

std::string Diagnostic::ToString() const {
  const char* severity_name = severity == Severity::kError ? "error" : "warning";
  if (path.empty()) return absl::StrCat(severity_name, ": ", message);
  return absl::StrCat(severity_name, ": ", path, ": ", message);
}

std::string Diagnostic::ToLogMessage() const {
  if (path.empty()) return message;
  return absl::StrCat(path, ": ", message);
}

void Diagnostics::Error(std::string path, std::string message) {
  all_.push_back({Diagnostic::Severity::kError, std::move(path), std::move(message)});
}

void Diagnostics::Warning(std::string path, std::string message) {
  all_.push_back({Diagnostic::Severity::kWarning, std::move(path), std::move(message)});
}

void Diagnostics::Unsupported(std::string path, std::string why) {
  all_.push_back({Diagnostic::Severity::kUnsupported, std::move(path),
                  absl::StrCat("not supported by this stack: ", why)});
}

bool Diagnostics::has_errors() const {
  for (const Diagnostic& d : all_) {
    if (d.severity == Diagnostic::Severity::kError) return true;
  }
  return false;
}

}  // namespace edge::config
