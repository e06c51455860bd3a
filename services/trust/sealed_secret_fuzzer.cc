// Fuzz target: unsealing arbitrary values must fail cleanly, never crash or leak.
#include <cstddef>
#include <cstdint>

#include "services/trust/sealed_secret.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const edge::trust::MasterKey key =
      *edge::trust::MasterKey::FromBytes(std::string(32, 'f'));
  std::string value(reinterpret_cast<const char*>(data), size);
  (void)edge::trust::Unseal(key, value, "fuzz");
  (void)edge::trust::Unseal(key, "AES:" + value, "fuzz");
  return 0;
}
