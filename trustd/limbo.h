// x509-limbo harness: runs the trust engine, with the strict policy, over a limbo test
// file and writes the results in the harness contract of x509-limbo
// (shared/testdata/x509-limbo/README.md).
#ifndef TRUSTD_LIMBO_H_
#define TRUSTD_LIMBO_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace edge::trustd {

struct LimboResult {
  std::string id;
  std::string validation_kind;  // SERVER or CLIENT.
  std::string expected;         // SUCCESS or FAILURE, as the file says.
  std::string actual;           // SUCCESS, FAILURE or SKIPPED.
  std::string context;          // The Decision's summary, or why it was skipped.
};

// Runs every test case of a limbo file. kInvalidArgument when the input is not one.
absl::StatusOr<std::vector<LimboResult>> RunLimboCases(absl::string_view limbo_json);

// The results JSON of the harness contract.
std::string RenderLimboResults(const std::vector<LimboResult>& results);

// Reads a limbo file ({"version": 1, "testcases": [...]}) and returns the results JSON
// ({"version": 1, "harness": "edge-trustd", "results": [...]}). kInvalidArgument when the
// input is not a limbo file; a single malformed test case is reported as SKIPPED with why.
absl::StatusOr<std::string> RunLimbo(absl::string_view limbo_json);

}  // namespace edge::trustd

#endif  // TRUSTD_LIMBO_H_
