#include "tests/pki/test_policy.h"

#include <cstdlib>
#include <iostream>

namespace edge::testing {

std::unique_ptr<trust::ChainValidator> ValidatorTrusting(const TestCert& root,
                                                         trust::Purpose purpose) {
  trust::TrustPolicy policy;
  trust::PurposePolicy pp;
  auto store = std::make_shared<trust::TrustStore>();
  store->source = "test";
  store->anchors.emplace_back(X509_dup(root.cert()));
  pp.store = store;
  policy.purposes[purpose] = pp;
  absl::StatusOr<std::unique_ptr<trust::ChainValidator>> engine =
      trust::ChainValidator::Create(std::move(policy));
  if (!engine.ok()) {
    std::cerr << "ValidatorTrusting: " << engine.status() << "\n";
    std::abort();
  }
  return *std::move(engine);
}

}  // namespace edge::testing
