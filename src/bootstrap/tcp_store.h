// The bootstrap key-value store over TCP, served by rank 0. Each client first presents the job
// token; anything else (a stranger, a wrong token, a malformed frame) is refused with a warning
// and the server keeps serving the job.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "base/job_token.h"
#include "base/socket.h"
#include "base/store.h"
#include "base/warning_budget.h"

namespace gccl {

namespace store_wire {
inline constexpr uint32_t kMagic = 0x47435354;  // "GCST"
inline constexpr uint32_t kMaxKeyBytes = 1024;
inline constexpr uint32_t kMaxValueBytes = 1 << 20;
// kProbe asks whether a key exists now: answered at once with kValue or kAbsent. A client
// never probes while a get of its own is outstanding (the server drops one that does).
enum class Type : uint32_t {
  kHello = 1,
  kHelloOk = 2,
  kSet = 3,
  kGet = 4,
  kValue = 5,
  kProbe = 6,
  kAbsent = 7
};
struct Header {
  uint32_t magic;
  uint32_t type;
  uint32_t keyBytes;
  uint32_t valueBytes;
};
}  // namespace store_wire

class TcpStoreServer {
 public:
  // Serves on an already listening socket (from gcclGetUniqueId) until destroyed.
  TcpStoreServer(Socket listener, const JobToken& token);
  ~TcpStoreServer();
  TcpStoreServer(const TcpStoreServer&) = delete;
  TcpStoreServer& operator=(const TcpStoreServer&) = delete;

  SocketAddress address() const { return address_; }
  // Makes the destructor keep serving, for at most `ms`, until every rank has hung up: rank 0
  // failing its init leaves the reason in the store for the others to read.
  void lingerOnClose(int ms) { lingerMs_ = ms; }
  // When a client last probed a key (diagnosing a failure), or the epoch.
  Clock::time_point lastProbe() const { return lastProbe_.load(); }

 private:
  struct Client;
  void serve();
  bool serveOnce();  // false: the server is shutting down
  void admit(Socket socket);
  size_t dropStrangers();  // returns how many it dropped
  // Each false: drop the client.
  bool handleReadable(Client& client);  // reads what arrived, never waiting
  bool handleFrames(Client& client);    // handles the whole frames received
  bool handleFrame(Client& client, store_wire::Type type, const std::string& key,
                   std::string value);
  void answerWaiters(const std::string& key);
  bool answerProbe(Client& client, const std::string& key, const Deadline& deadline);

  Socket listener_;
  SocketAddress address_;
  JobToken token_;
  int wakePipe_[2] = {-1, -1};
  std::map<int, Client*> clients_;
  std::map<std::string, std::string> values_;
  std::atomic<Clock::time_point> lastProbe_{};
  std::atomic<size_t> ranksConnected_{0};  // authenticated clients, for lingerOnClose
  WarningBudget strangerWarnings_{WarningBudget::kFreeStrangerWarnings,
                                  WarningBudget::kStrangerWarningsEvery};
  int lingerMs_ = 0;
  // Out of descriptors with no stranger to shed: the listener rests until then, rather than
  // polling readable at once round after round.
  Clock::time_point acceptPausedUntil_{};
  std::thread thread_;
};

class TcpStoreClient final : public Store {
 public:
  // Connects and presents the token; `timeoutMs` bounds the connection and every set().
  TcpStoreClient(const SocketAddress& server, const JobToken& token, int timeoutMs);
  void set(const std::string& key, const std::string& value) override;
  std::string get(const std::string& key, const Deadline& deadline) override;
  bool trySet(const std::string& key, const std::string& value, const Deadline& deadline) override;
  StoreProbe probe(const std::string& key, const Deadline& deadline) override;
  std::string location() const override { return server_.toString(); }
  // The local address of the connection: the interface that reaches the root.
  SocketAddress localAddress() const { return socket_.localAddress(); }

 private:
  void sendFrame(store_wire::Type type, const std::string& key, const std::string& value,
                 const Deadline& deadline);
  store_wire::Header receiveReply(const std::string& key, const Deadline& deadline);
  void requireInSync() const;
  SocketAddress server_;
  int timeoutMs_;
  // One request at a time: a split communicator and its parent share this client. A get may
  // hold it while the server waits for its key, and a probe or a trySet (the stall
  // diagnosis's) must not wait longer than its own deadline behind that (lockBy).
  std::mutex mutex_;
  Socket socket_;
  // A request cut off by its deadline leaves the stream mid-frame or a reply in flight: nothing
  // said on this connection afterwards could be trusted.
  bool desynchronized_ = false;
};

}  // namespace gccl
