// The second layer of configuration checks: rules that span fields, the files the
// configuration names, and the warnings for every insecure-but-allowed setting. The first
// layer (types and ranges of single fields) runs while loading (loader.cc).
#ifndef SERVICES_CONFIG_VALIDATE_H_
#define SERVICES_CONFIG_VALIDATE_H_

#include "services/config/config.h"
#include "services/config/diagnostic.h"

namespace edge::config {

// Adds every problem of `config` to `diags`: first each group's own rules, then the rules
// that span groups, then (when `check_files`) the files it names. When `check_files` is
// false, the files are not looked at (edged and restd validate the file too but are not
// meant to be able to read keys). Changes nothing: paths are already resolved (loader).
void ValidateConfig(const Config& config, Diagnostics* diags, bool check_files = true);

// The names trustd asks the ACME CA for (trustd.acme): the role's `names` and, for
// rest_server, http_server.host unless it is a wildcard address or localhost; lower case,
// each once, in that order.
std::vector<std::string> AcmeNames(const Config& config, bool rest_server);

}  // namespace edge::config

#endif  // SERVICES_CONFIG_VALIDATE_H_
