// Standalone driver for fuzz targets in normal (non-libFuzzer) builds: runs
// LLVMFuzzerTestOneInput once per file named on the command line (directories are walked),
// so every fuzz target's seed corpus is replayed as a regular test.
#include <dirent.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

static int RunPath(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    std::fprintf(stderr, "fuzz driver: %s: no such file\n", path.c_str());
    return 1;
  }
  if (S_ISDIR(st.st_mode)) {
    int runs = 0;
    DIR* dir = opendir(path.c_str());
    while (dirent* e = readdir(dir)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      runs += RunPath(path + "/" + name);
    }
    closedir(dir);
    return runs;
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string data = ss.str();
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()), data.size());
  return 1;
}

int main(int argc, char** argv) {
  int runs = 0;
  for (int i = 1; i < argc; ++i) runs += RunPath(argv[i]);
  std::printf("fuzz driver: replayed %d inputs\n", runs);
  return runs > 0 ? 0 : 1;
}
