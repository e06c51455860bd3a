#include "services/trust/policy.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace edge::trust {
namespace {

struct Relaxation {
  const char* name;
  bool StrictPolicy::*field;
};

// The trustd.policy keys (services/config), one per StrictPolicy relaxation.
constexpr Relaxation kRelaxations[] = {
    {"allow_sha1_signatures", &StrictPolicy::allow_sha1_signatures},
    {"allow_missing_eku", &StrictPolicy::allow_missing_eku},
    {"allow_missing_san", &StrictPolicy::allow_missing_san},
    {"allow_weak_keys", &StrictPolicy::allow_weak_keys},
    {"allow_v1_ca", &StrictPolicy::allow_v1_ca},
    {"allow_invalid_serial", &StrictPolicy::allow_invalid_serial},
    {"ignore_leaf_name_constraints", &StrictPolicy::ignore_leaf_name_constraints},
};

}  // namespace

std::vector<std::string> RelaxationNames() {
  std::vector<std::string> names;
  for (const Relaxation& r : kRelaxations) names.emplace_back(r.name);
  return names;
}

absl::Status ApplyRelaxation(absl::string_view name, StrictPolicy* policy) {
  for (const Relaxation& r : kRelaxations) {
    if (name == r.name) {
      policy->*r.field = true;
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown relaxation \"", name, "\"; expected one of the trustd.policy names: ",
      absl::StrJoin(RelaxationNames(), ", ")));
}

}  // namespace edge::trust
