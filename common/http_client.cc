#include "common/http_client.h"

#include <curl/curl.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace weir {
namespace {

size_t Append(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// curl_global_init is not thread-safe: once, before the first handle.
void InitCurl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// The inodes of the sockets `pid` holds.
std::set<std::string> SocketInodes(pid_t pid) {
  std::set<std::string> inodes;
  std::error_code error;
  for (const auto& fd : std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/fd"),
                                                            error)) {
    const std::string target = std::filesystem::read_symlink(fd.path(), error).string();
    if (!error && target.rfind("socket:[", 0) == 0) {
      inodes.insert(target.substr(8, target.size() - 9));
    }
  }
  return inodes;
}

// The local ports of the listening sockets among `inodes` in a /proc/net/tcp-format file.
void ListeningPorts(const std::string& path, const std::set<std::string>& inodes,
                    std::set<int>& ports) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    const std::vector<std::string> fields =
        absl::StrSplit(line, ' ', absl::SkipWhitespace());
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    if (fields.size() < 10 || fields[3] != "0A" || !inodes.contains(fields[9])) continue;
    int port = 0;
    const size_t colon = fields[1].rfind(':');
    if (colon != std::string::npos &&
        absl::SimpleHexAtoi(absl::string_view(fields[1]).substr(colon + 1), &port)) {
      ports.insert(port);
    }
  }
}

}  // namespace

HttpResponse HttpSend(const HttpCall& call) {
  InitCurl();
  HttpResponse out;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    out.error = "curl_easy_init failed";
    return out;
  }
  curl_slist* headers = nullptr;
  for (const std::string& header : call.headers) {
    headers = curl_slist_append(headers, header.c_str());
  }
  char error[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(curl, CURLOPT_URL, call.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(call.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");  // instances reach each other directly
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (call.body.has_value()) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, call.body->data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(call.body->size()));
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &out.headers);
  long status = 0;
  const CURLcode code = curl_easy_perform(curl);
  if (code == CURLE_OK && curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK) {
    out.status = static_cast<int>(status);
  } else {
    out = HttpResponse{};
    out.error = error[0] != '\0' ? error : curl_easy_strerror(code);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return out;
}

HttpResponse HttpGet(int port, const std::string& target) {
  return HttpSend({.url = absl::StrCat("http://127.0.0.1:", port, target)});
}

absl::StatusOr<std::string> ServerUrl(absl::string_view server) {
  absl::string_view rest = server;
  std::string scheme = "http";
  if (const size_t colon = rest.find("://"); colon != absl::string_view::npos) {
    scheme = std::string(rest.substr(0, colon));
    rest.remove_prefix(colon + 3);
    if (scheme != "http" && scheme != "https") {
      return absl::InvalidArgumentError(
          absl::StrCat("server '", server, "': scheme ", scheme, " is not http or https"));
    }
  }
  absl::ConsumeSuffix(&rest, "/");
  const size_t colon = rest.rfind(':');
  int port = 0;
  if (rest.find('/') != absl::string_view::npos || colon == absl::string_view::npos ||
      colon == 0 || !absl::SimpleAtoi(rest.substr(colon + 1), &port) || port <= 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "server '", server, "' is not HOST:PORT or http://HOST:PORT (e.g. 127.0.0.1:9464)"));
  }
  return absl::StrCat(scheme, "://", rest);
}

std::string UrlEncode(const std::string& text) {
  InitCurl();
  char* escaped = curl_easy_escape(nullptr, text.data(), static_cast<int>(text.size()));
  std::string out = escaped == nullptr ? "" : escaped;
  curl_free(escaped);
  return out;
}

std::optional<int> ListeningPort(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const std::set<std::string> inodes = SocketInodes(pid);
    std::set<int> ports;
    for (const char* table : {"tcp", "tcp6"}) {
      ListeningPorts(absl::StrCat("/proc/", pid, "/net/", table), inodes, ports);
    }
    if (ports.size() == 1) return *ports.begin();
    if (ports.size() > 1 || std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the child is starting
  }
}

std::optional<int> ReadPortFile(const std::string& path, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    std::ifstream in(path);
    std::string text;
    int port = 0;
    if (std::getline(in, text) && absl::SimpleAtoi(text, &port) && port > 0 && port < 65536) {
      return port;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the child is starting
  }
}

}  // namespace weir
