// Loading and validating the configuration file.
//
//   absl::StatusOr<LoadedConfig> loaded = LoadConfigFile("/etc/edge/config.json");
//   if (!loaded.ok()) { std::cerr << loaded.status().message(); return 1; }
//   for (const Diagnostic& w : loaded->diagnostics) std::cerr << w.ToString() << "\n";
//
// Accepts YAML, and an EMS config.json as it is: JSON with `//` line comments (outside
// strings) and tabs. Every problem is reported at once, each with its field path, what was
// expected and what was found (diagnostic.h). Relative file paths in the file are resolved
// against the directory of the config file. Secret values never appear in any message.
#ifndef SERVICES_CONFIG_LOADER_H_
#define SERVICES_CONFIG_LOADER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/config/config.h"
#include "services/config/diagnostic.h"

namespace edge::config {

struct LoadedConfig {
  Config config;
  std::vector<Diagnostic> diagnostics;  // Warnings only (errors make the load fail).
};

// kInvalidArgument when there is any error; its message is every diagnostic (errors and
// warnings), one per line. kNotFound / kPermissionDenied when the file cannot be read.
// `check_files`: also check that every file the configuration names can be read (trustd,
// trustctl). edged and restd pass false: they must not be able to read keys.
absl::StatusOr<LoadedConfig> LoadConfigFile(const std::string& path, bool check_files = true);

// The same for text; `source_name` names it in messages, `base_dir` resolves relative paths.
absl::StatusOr<LoadedConfig> LoadConfigText(absl::string_view text, absl::string_view source_name,
                                            const std::string& base_dir = ".",
                                            bool check_files = true);

// Parses and validates, returning every diagnostic (errors and warnings) whether or not the
// configuration is usable; `config` is filled as far as it could be. For check-config.
std::vector<Diagnostic> CheckConfigText(absl::string_view text, absl::string_view source_name,
                                        const std::string& base_dir, Config* config,
                                        bool check_files = true);

// EMS config.json -> text yaml-cpp accepts: `//` comments outside strings removed, tabs
// outside strings turned into spaces, UTF-16 surrogate pairs joined. Other text unchanged.
std::string JsonToYaml(absl::string_view json);

}  // namespace edge::config

#endif  // SERVICES_CONFIG_LOADER_H_
