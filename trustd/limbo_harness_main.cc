// limbo_harness: `trustctl limbo` without the rest of trustctl, so that it links no gRPC and
// can be built against BoringSSL (--config=boringssl) as well as OpenSSL 3.
//
//   limbo_harness [--relax NAME[,NAME...]] < limbo.json > results.json
//
// The results JSON (x509-limbo's harness contract) on stdout, the score on stderr; exit 1
// on a bad option or input.
#include <iostream>
#include <iterator>
#include <string>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "services/trust/policy.h"
#include "trustd/limbo.h"

int main(int argc, char** argv) {
  edge::trustd::LimboOptions options;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    std::string names;
    if (absl::ConsumePrefix(&arg, "--relax=")) {
      names = std::string(arg);
    } else if (arg == "--relax" && i + 1 < argc) {
      names = argv[++i];
    } else {
      std::cerr << "limbo_harness: unexpected argument \"" << argv[i]
                << "\"; usage: limbo_harness [--relax NAME[,NAME...]] < limbo.json\n";
      return 1;
    }
    for (absl::string_view name : absl::StrSplit(names, ',', absl::SkipEmpty())) {
      absl::Status s = edge::trust::ApplyRelaxation(name, &options.strict);
      if (!s.ok()) {
        std::cerr << "limbo_harness: --relax: " << s.message() << "\n";
        return 1;
      }
    }
  }
  std::string input((std::istreambuf_iterator<char>(std::cin)),
                    std::istreambuf_iterator<char>());
  auto results = edge::trustd::RunLimboCases(input, options);
  if (!results.ok()) {
    std::cerr << "limbo_harness: " << results.status().message() << "\n";
    return 1;
  }
  std::cout << edge::trustd::RenderLimboResults(*results);
  std::cerr << edge::trustd::RenderLimboTally(edge::trustd::TallyLimbo(*results)) << "\n";
  return 0;
}
