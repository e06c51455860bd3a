// Fuzz target: the PEM chain loader must turn any bytes into a chain or an error.
#include <cstddef>
#include <cstdint>

#include "services/trust/cert_chain.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto chain = edge::trust::LoadCertificateChain(
      absl::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  if (chain.ok()) (void)edge::trust::OrderedChain(chain->certs);
  return 0;
}
