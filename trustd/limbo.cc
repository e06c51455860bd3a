#include "trustd/limbo.h"

#include <openssl/pem.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <memory>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "services/common/openssl_util.h"
#include "services/config/loader.h"
#include "services/trust/chain_validator.h"

namespace edge::trustd {
namespace {

using trust::ChainValidator;
using trust::Decision;
using trust::JsonQuote;
using trust::Purpose;
using trust::PurposePolicy;
using trust::TrustPolicy;
using trust::TrustStore;

using CaseResult = LimboResult;

std::string Str(const YAML::Node& node) {
  return node && node.IsScalar() ? node.as<std::string>() : std::string();
}

absl::StatusOr<std::vector<UniqueX509>> Certs(const YAML::Node& list, absl::string_view what) {
  std::vector<UniqueX509> certs;
  if (!list || list.IsNull()) return certs;
  for (size_t i = 0; i < list.size(); ++i) {
    auto parsed = CertsFromPem(Str(list[i]), absl::StrCat(what, "[", i, "]"));
    if (!parsed.ok()) return parsed.status();
    for (auto& c : *parsed) certs.push_back(std::move(c));
  }
  return certs;
}

CaseResult RunCase(const YAML::Node& tc, const LimboOptions& options) {
  CaseResult r;
  r.id = Str(tc["id"]);
  const YAML::Node& conflicts = tc["conflicts_with"];
  for (size_t i = 0; conflicts && conflicts.IsSequence() && i < conflicts.size(); ++i) {
    r.conflicts_with.push_back(Str(conflicts[i]));
  }
  r.validation_kind = Str(tc["validation_kind"]);
  r.expected = Str(tc["expected_result"]);
  auto skip = [&](std::string why) {
    r.actual = "SKIPPED";
    r.context = std::move(why);
    return r;
  };

  std::string kind = Str(tc["validation_kind"]);
  Purpose purpose = kind == "CLIENT" ? Purpose::kClient : Purpose::kPlatform;

  auto store = std::make_shared<TrustStore>();
  store->source = "trusted_certs";
  auto trusted = Certs(tc["trusted_certs"], "trusted_certs");
  if (!trusted.ok()) return skip(std::string(trusted.status().message()));
  store->anchors = std::move(*trusted);
  const YAML::Node& crls = tc["crls"];
  for (size_t i = 0; crls && crls.IsSequence() && i < crls.size(); ++i) {
    std::string pem = Str(crls[i]);
    UniqueBio bio = MemBio(pem);
    UniqueX509Crl crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
    if (!crl) {
      ClearOpenSslErrors();
      return skip(absl::StrCat("crls[", i, "] is not a PEM CRL"));
    }
    store->crls.push_back(std::move(crl));
  }
  auto intermediates = Certs(tc["untrusted_intermediates"], "untrusted_intermediates");
  if (!intermediates.ok()) return skip(std::string(intermediates.status().message()));
  auto peer = CertsFromPem(Str(tc["peer_certificate"]), "peer_certificate");
  if (!peer.ok()) {
    // An unparseable peer certificate is a refusal, as it would be in a handshake.
    ClearOpenSslErrors();
    r.actual = "FAILURE";
    r.context = std::string(peer.status().message());
    return r;
  }

  PurposePolicy pp;
  pp.store = store;
  pp.strict = options.strict;
  const YAML::Node& depth = tc["max_chain_depth"];
  if (depth && !depth.IsNull()) pp.max_depth = depth.as<int>();
  TrustPolicy policy;
  policy.purposes[purpose] = std::move(pp);
  auto validator = ChainValidator::Create(std::move(policy));
  if (!validator.ok()) return skip(std::string(validator.status().message()));

  absl::Time now = absl::Now();
  std::string when = Str(tc["validation_time"]);
  if (!when.empty()) {
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, when, &now, &err)) {
      return skip(absl::StrCat("validation_time: ", err));
    }
  }
  std::string name;
  const YAML::Node& peer_name = tc["expected_peer_name"];
  if (peer_name && peer_name.IsMap()) {
    std::string name_kind = Str(peer_name["kind"]);
    if (name_kind == "DNS" || name_kind == "IP") name = Str(peer_name["value"]);
  }

  std::vector<X509*> chain;
  chain.push_back((*peer)[0].get());
  for (const UniqueX509& c : *intermediates) chain.push_back(c.get());
  absl::Time start = absl::Now();
  Decision d = (*validator)->ValidateCerts(chain, purpose, name, now);
  r.decision_time = absl::Now() - start;
  r.actual = d.allowed ? "SUCCESS" : "FAILURE";
  r.context = d.allowed ? "allowed" : d.Summary();
  return r;
}

}  // namespace

absl::StatusOr<std::vector<LimboResult>> RunLimboCases(absl::string_view limbo_json,
                                                       const LimboOptions& options) {
  YAML::Node root;
  try {
    root = YAML::Load(config::JsonToYaml(limbo_json));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("limbo input: not JSON: ", e.what()));
  }
  if (!root.IsMap() || !root["testcases"] || !root["testcases"].IsSequence()) {
    return absl::InvalidArgumentError(
        "limbo input: expected an object with a \"testcases\" array");
  }
  std::vector<LimboResult> results;
  for (const YAML::Node& tc : root["testcases"]) {
    LimboResult r;
    try {
      r = RunCase(tc, options);
    } catch (const YAML::Exception& e) {
      r.id = Str(tc["id"]);
      r.actual = "SKIPPED";
      r.context = absl::StrCat("malformed test case: ", e.what());
    }
    results.push_back(std::move(r));
  }
  return results;
}

std::string RenderLimboResults(const std::vector<LimboResult>& results) {
  std::vector<std::string> rows;
  for (const LimboResult& r : results) {
    rows.push_back(absl::StrCat("{\"id\":", JsonQuote(r.id), ",\"actual_result\":",
                                JsonQuote(r.actual), ",\"context\":", JsonQuote(r.context),
                                "}"));
  }
  return absl::StrCat("{\"version\":1,\"harness\":\"edge-trustd\",\"results\":[\n",
                      absl::StrJoin(rows, ",\n"), "\n]}\n");
}

LimboTally TallyLimbo(const std::vector<LimboResult>& results) {
  LimboTally t;
  std::map<std::string, const LimboResult*> by_id;
  for (const LimboResult& r : results) by_id[r.id] = &r;
  std::set<std::string> counted;
  for (const LimboResult& r : results) {
    bool right = r.actual == r.expected;
    if (!right && r.actual == "SUCCESS") t.wrongly_accepted.push_back(r.id);
    if (!right && r.actual != "SUCCESS") t.wrongly_refused.push_back(r.id);
    if (counted.count(r.id) != 0) continue;
    counted.insert(r.id);
    for (const std::string& other : r.conflicts_with) {
      auto it = by_id.find(other);
      if (it == by_id.end() || counted.count(other) != 0) continue;
      counted.insert(other);
      right = right || it->second->actual == it->second->expected;
    }
    ++t.cases;
    if (right) ++t.right;
  }
  return t;
}

std::string RenderLimboTally(const LimboTally& t) {
  return absl::StrCat("limbo: ", t.right, "/", t.cases, " right (",
                      absl::StrFormat("%.1f", t.percent()), "%), ", t.wrongly_accepted.size(),
                      " wrongly accepted, ", t.wrongly_refused.size(), " wrongly refused");
}

absl::StatusOr<std::string> RunLimbo(absl::string_view limbo_json,
                                     const LimboOptions& options) {
  auto results = RunLimboCases(limbo_json, options);
  if (!results.ok()) return results.status();
  return RenderLimboResults(*results);
}

}  // namespace edge::trustd
