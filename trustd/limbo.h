// x509-limbo harness: runs the trust engine, with the strict policy, over a limbo test
// file and writes the results in the harness contract of x509-limbo
// (shared/testdata/x509-limbo/README.md).
#ifndef TRUSTD_LIMBO_H_
#define TRUSTD_LIMBO_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/trust/policy.h"

namespace edge::trustd {

struct LimboResult {
  std::string id;
  std::string validation_kind;  // SERVER or CLIENT.
  std::string expected;         // SUCCESS or FAILURE, as the file says.
  std::string actual;           // SUCCESS, FAILURE or SKIPPED.
  std::string context;          // The Decision's summary, or why it was skipped.
  // Ids of the cases this one contradicts by design (web-PKI vs RFC 5280 readings).
  std::vector<std::string> conflicts_with;
  // How long the engine took to decide (ChainValidator::ValidateCerts alone: not the PEM
  // parsing nor building the validator); zero when the case was skipped.
  absl::Duration decision_time;
};

struct LimboOptions {
  // The strict policy every case runs under; the defaults are trustd's. `trustctl limbo
  // --relax` sets relaxations by their trustd.policy names (ApplyRelaxation).
  trust::StrictPolicy strict;
};

// Runs every test case of a limbo file. kInvalidArgument when the input is not one.
absl::StatusOr<std::vector<LimboResult>> RunLimboCases(absl::string_view limbo_json,
                                                       const LimboOptions& options = {});

// How a harness run scores. A case and the cases it conflicts with count as one, right when
// any of them is right (a validator can only get one side of a conflict right).
struct LimboTally {
  int cases = 0;  // Cases, conflicting groups counted once.
  int right = 0;
  std::vector<std::string> wrongly_accepted;  // Expected FAILURE, got SUCCESS.
  std::vector<std::string> wrongly_refused;   // Expected SUCCESS, got FAILURE (or SKIPPED).
  double percent() const { return cases == 0 ? 0 : 100.0 * right / cases; }
};
LimboTally TallyLimbo(const std::vector<LimboResult>& results);
// "limbo: 199/205 right (97.1%), 0 wrongly accepted, 9 wrongly refused".
std::string RenderLimboTally(const LimboTally& tally);

// The results JSON of the harness contract.
std::string RenderLimboResults(const std::vector<LimboResult>& results);

// Reads a limbo file ({"version": 1, "testcases": [...]}) and returns the results JSON
// ({"version": 1, "harness": "edge-trustd", "results": [...]}). kInvalidArgument when the
// input is not a limbo file; a single malformed test case is reported as SKIPPED with why.
absl::StatusOr<std::string> RunLimbo(absl::string_view limbo_json,
                                     const LimboOptions& options = {});

}  // namespace edge::trustd

#endif  // TRUSTD_LIMBO_H_
