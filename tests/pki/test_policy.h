// The trust engine as a test or benchmark wants it most often: one purpose, one root.
//
//   std::unique_ptr<trust::ChainValidator> engine =
//       ValidatorTrusting(root, trust::Purpose::kPlatform);
//   trust::Decision d = engine->Validate(chain, trust::Purpose::kPlatform, "x.test", now);
#ifndef TESTS_PKI_TEST_POLICY_H_
#define TESTS_PKI_TEST_POLICY_H_

#include <memory>

#include "services/trust/chain_validator.h"
#include "tests/pki/test_pki.h"

namespace edge::testing {

// An engine that trusts `root` for `purpose` under the default strict policy.
std::unique_ptr<trust::ChainValidator> ValidatorTrusting(const TestCert& root,
                                                         trust::Purpose purpose);

}  // namespace edge::testing

#endif  // TESTS_PKI_TEST_POLICY_H_
