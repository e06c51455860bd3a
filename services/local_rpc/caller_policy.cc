#include "services/local_rpc/caller_policy.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace edge::local_rpc {

CallerPolicy::CallerPolicy(std::vector<CallerRule> rules, uid_t daemon_uid,
                           std::set<std::string> open_methods)
    : rules_(std::move(rules)),
      daemon_uid_(daemon_uid),
      open_methods_(open_methods.begin(), open_methods.end()) {}

bool CallerPolicy::IsOpenMethod(absl::string_view method) const {
  return open_methods_.count(method) > 0 || absl::StartsWith(method, "grpc.health.") ||
         absl::StartsWith(method, "grpc.reflection.");
}

bool CallerPolicy::Privileged(const PeerCredentials& caller) const {
  return caller.uid == 0 || caller.uid == daemon_uid_;
}

std::vector<const CallerRule*> CallerPolicy::Matching(const PeerCredentials& caller) const {
  std::vector<const CallerRule*> out;
  for (const CallerRule& rule : rules_) {
    if (!rule.uid && !rule.gid) continue;  // A rule must name someone.
    if (rule.uid && *rule.uid != caller.uid) continue;
    if (rule.gid && *rule.gid != caller.gid) continue;
    out.push_back(&rule);
  }
  return out;
}

bool CallerPolicy::AllowsMethod(const PeerCredentials& caller, absl::string_view method) const {
  if (IsOpenMethod(method) || Privileged(caller)) return true;
  for (const CallerRule* rule : Matching(caller)) {
    if (rule->methods.count(std::string(method)) > 0) return true;
  }
  return false;
}

bool CallerPolicy::AllowsRole(const PeerCredentials& caller, absl::string_view role) const {
  if (Privileged(caller)) return true;
  for (const CallerRule* rule : Matching(caller)) {
    if (rule->roles.count(std::string(role)) > 0) return true;
  }
  return false;
}

bool CallerPolicy::AllowsSecret(const PeerCredentials& caller, absl::string_view secret) const {
  if (Privileged(caller)) return true;
  for (const CallerRule* rule : Matching(caller)) {
    for (const std::string& pattern : rule->secrets) {
      if (pattern == secret) return true;
      if (absl::EndsWith(pattern, "*") &&
          absl::StartsWith(secret, absl::string_view(pattern).substr(0, pattern.size() - 1))) {
        return true;
      }
    }
  }
  return false;
}

std::string CallerPolicy::Describe(const PeerCredentials& caller) const {
  std::vector<const CallerRule*> rules = Matching(caller);
  std::string who = rules.empty() ? "" : rules.front()->name + " ";
  return absl::StrCat(who, "(uid ", caller.uid, ", gid ", caller.gid, ", pid ", caller.pid, ")");
}

absl::StatusOr<CallerPolicy> CallerPolicyFromConfig(
    const std::vector<config::CallerConfig>& callers, absl::string_view group,
    std::set<std::string> open_methods) {
  std::vector<CallerRule> rules;
  for (size_t i = 0; i < callers.size(); ++i) {
    const config::CallerConfig& c = callers[i];
    CallerRule rule;
    rule.name = c.name.empty() ? absl::StrCat("caller ", i) : c.name;
    if (c.uid) rule.uid = static_cast<uid_t>(*c.uid);
    if (c.gid) rule.gid = static_cast<gid_t>(*c.gid);
    if (!c.user.empty()) {
      struct passwd* pw = ::getpwnam(c.user.c_str());
      if (pw == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            group, ".callers[", i, "].user: expected a user of this system, found \"", c.user,
            "\", which does not exist"));
      }
      rule.uid = pw->pw_uid;
    }
    if (!c.group.empty()) {
      struct group* gr = ::getgrnam(c.group.c_str());
      if (gr == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            group, ".callers[", i, "].group: expected a group of this system, found \"", c.group,
            "\", which does not exist"));
      }
      rule.gid = gr->gr_gid;
    }
    rule.methods = {c.methods.begin(), c.methods.end()};
    rule.roles = {c.roles.begin(), c.roles.end()};
    rule.secrets = c.secrets;
    rules.push_back(std::move(rule));
  }
  return CallerPolicy(std::move(rules), ::geteuid(), std::move(open_methods));
}

}  // namespace edge::local_rpc
