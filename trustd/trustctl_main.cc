// trustctl: the operator CLI of the trust stack. See Usage() below.
#include <unistd.h>

#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "services/common/file_util.h"
#include "services/common/openssl_util.h"
#include "trustd/limbo.h"

namespace {

constexpr char kUsage[] = R"(usage: trustctl COMMAND [ARGS]

commands:
  fingerprint FILE.pem        print "SHA256 Fingerprint=AA:BB:..." for every certificate
  limbo                       x509-limbo harness: limbo JSON on stdin, results on stdout
)";

int Fingerprint(const std::vector<std::string>& args) {
  if (args.size() != 1) {
    std::cerr << "usage: trustctl fingerprint FILE.pem\n";
    return 2;
  }
  auto pem = edge::ReadFile(args[0]);
  if (!pem.ok()) {
    std::cerr << "trustctl: " << pem.status().message() << "\n";
    return 1;
  }
  auto certs = edge::CertsFromPem(*pem, args[0]);
  if (!certs.ok()) {
    std::cerr << "trustctl: " << certs.status().message() << "\n";
    return 1;
  }
  for (const auto& cert : *certs) {
    std::cout << "SHA256 Fingerprint=" << edge::Sha256Fingerprint(cert.get()) << "\n";
  }
  return 0;
}

int Limbo() {
  std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  auto out = edge::trustd::RunLimbo(input);
  if (!out.ok()) {
    std::cerr << "trustctl limbo: " << out.status().message() << "\n";
    return 1;
  }
  std::cout << *out;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  std::string command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "fingerprint") return Fingerprint(args);
  if (command == "limbo") return Limbo();
  if (command == "help" || command == "--help" || command == "-h") {
    std::cout << kUsage;
    return 0;
  }
  std::cerr << "trustctl: unknown command \"" << command << "\"\n" << kUsage;
  return 2;
}
