// The readable form of a trust decision, for `trustctl verify` on a terminal (scripts get
// Decision::ToJson with --json).
//
//   std::cout << DecisionText(decision, Purpose::kPlatform, "platform.local");
//   refused: NAME_MISMATCH (openssl error 62: hostname mismatch)
//     detail       ...
//     hint         ...
//     chain        0  CN=platform.local
//                     issued by CN=Dev CA, valid 2025-01-01 to 2027-01-01
//                     sha256 AA:BB:...
#ifndef TRUSTD_VERIFY_TEXT_H_
#define TRUSTD_VERIFY_TEXT_H_

#include <string>

#include "absl/strings/string_view.h"
#include "services/trust/decision.h"

namespace edge::trustd {

// The warning `trustctl verify` prints when it was not given --name.
inline constexpr char kHostNameNotChecked[] =
    "host name not checked: without --name HOST any certificate the trust anchors accept "
    "passes, whatever host it was issued for; edged and restd always check the name";

// Several lines, each ending in "\n": the verdict and the reason first, then what failed,
// the hint, the chain (subject, issuer, validity, SHA-256 per certificate) and the
// relaxations that were used. Everything in a Decision is safe to print.
std::string DecisionText(const trust::Decision& decision, trust::Purpose purpose,
                         absl::string_view name);

}  // namespace edge::trustd

#endif  // TRUSTD_VERIFY_TEXT_H_
