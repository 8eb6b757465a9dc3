// The engine over real TCP sockets, ranks as threads, running hand-written schedules: the
// orderings that an allreduce only hits by chance are forced here.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "bootstrap/memory_store.h"
#include "core/engine.h"
#include "transport/tcp/tcp_transport.h"

namespace gccl {
namespace {

constexpr int kSize = 2;

Config testConfig() {
  Config config;
  config.timeoutMs = 10000;
  return config;
}

// A real connection that asks for idle progress, as UCX's do, and counts the rounds it gets.
class IdleCounting final : public Connection {
 public:
  IdleCounting(std::unique_ptr<Connection> inner, bool needsIdle, std::atomic<int>& rounds)
      : inner_(std::move(inner)), needsIdle_(needsIdle), rounds_(rounds) {}
  int peer() const override { return inner_->peer(); }
  const std::string& peerName() const override { return inner_->peerName(); }
  void postSend(Message& message) override { inner_->postSend(message); }
  void postRecv(Message& message) override { inner_->postRecv(message); }
  bool progress() override { return inner_->progress(); }
  void updatePoller(Poller& poller) override { inner_->updatePoller(poller); }
  void abort(Status status, const std::string& notice) override { inner_->abort(status, notice); }
  bool needsIdleProgress() const override { return needsIdle_; }
  void progressIdle(uint64_t round) noexcept override {
    EXPECT_GT(round, lastRound_);
    lastRound_ = round;
    rounds_.fetch_add(1);
  }

 private:
  std::unique_ptr<Connection> inner_;
  bool needsIdle_;
  std::atomic<int>& rounds_;
  uint64_t lastRound_ = 0;
};

// Two engines connected over loopback TCP; with `idleRounds`, each connection counts the
// idle rounds it gets there, and asks for them if `needsIdle`.
std::vector<std::unique_ptr<Engine>> connectedEngines(const Config& config,
                                                      std::atomic<int>* idleRounds = nullptr,
                                                      bool needsIdle = true) {
  MemoryStore store;
  transport::tcp::TcpTransport transport("127.0.0.1", config);
  std::vector<std::unique_ptr<Engine>> engines;
  for (int rank = 0; rank < kSize; ++rank)
    engines.push_back(std::make_unique<Engine>(config, rank, kSize));
  std::vector<ConnectionMap> connections(kSize);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < kSize; ++rank) {
    threads.emplace_back([&, rank] {
      ConnectRequest request;
      request.rank = rank;
      request.size = kSize;
      request.peers = {1 - rank};
      request.timeoutMs = config.timeoutMs;
      connections[rank] = transport.connect(request, store, engines[rank]->poller());
    });
  }
  for (auto& thread : threads) thread.join();
  for (int rank = 0; rank < kSize; ++rank) {
    if (idleRounds != nullptr) {
      for (auto& [peer, connection] : connections[rank]) {
        connection = std::make_unique<IdleCounting>(std::move(connection), needsIdle, *idleRounds);
      }
    }
    engines[rank]->start(std::move(connections[rank]));
  }
  return engines;
}

// An operation of one step on a byte buffer.
std::unique_ptr<Operation> oneStep(StepKind kind, int peer, std::vector<uint8_t>& buffer) {
  auto schedule = std::make_shared<Schedule>();
  Step step;
  step.kind = kind;
  step.peer = peer;
  step.input = {0, buffer.size()};
  step.output = {0, buffer.size()};
  schedule->add(step);
  auto operation = std::make_unique<Operation>();
  operation->input = buffer.data();
  operation->output = buffer.data();
  operation->count = buffer.size();
  operation->type = DataType::kUint8;
  operation->sequence = 1;
  operation->schedule = std::move(schedule);
  return operation;
}

// A send completes once the kernel holds the bytes, not once the peer has read them: a rank
// that finishes and is destroyed before its peer reads must still deliver every byte.
TEST(EngineTcp, DestroyingAfterASendStillDeliversIt) {
  Config config = testConfig();
  // Small buffers: part of the message is still queued at the sender when it is destroyed.
  config.socketBufferBytes = 16 * 1024;
  auto engines = connectedEngines(config);
  std::vector<uint8_t> sent(config.socketBufferBytes * 3);
  for (size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<uint8_t>(i * 7 + 3);

  auto send = oneStep(StepKind::kSend, 0, sent);
  auto sendDone = send->request;
  engines[1]->run(std::move(send));
  ASSERT_EQ(sendDone->status(), Status::kSuccess) << sendDone->message();
  engines[1].reset();  // rank 1 is gone before rank 0 even posts its receive

  std::vector<uint8_t> received(sent.size(), 0);
  auto recv = oneStep(StepKind::kRecv, 1, received);
  auto recvDone = recv->request;
  engines[0]->run(std::move(recv));
  ASSERT_EQ(recvDone->status(), Status::kSuccess) << recvDone->message();
  EXPECT_EQ(received, sent);
}

// After the last byte, the close is still reported: a receive nobody will answer fails with a
// remote error naming the peer, at once rather than after the timeout.
TEST(EngineTcp, ReceivingFromADestroyedPeerFailsAtOnce) {
  const Config config = testConfig();
  auto engines = connectedEngines(config);
  engines[1].reset();

  std::vector<uint8_t> received(16, 0);
  auto recv = oneStep(StepKind::kRecv, 1, received);
  auto recvDone = recv->request;
  const auto start = std::chrono::steady_clock::now();
  engines[0]->run(std::move(recv));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2000));
  EXPECT_EQ(recvDone->status(), Status::kRemoteError);
  EXPECT_NE(recvDone->message().find("rank 1"), std::string::npos) << recvDone->message();
}

// Where a connection needs idle progress, the idle engine gives it rounds (counted up, once
// per round and connection), blocking calls on both ranks still run and exchange exact data
// while it does, and the engines are destroyed cleanly in the middle of it.
TEST(EngineTcp, IdleProgressRunsBetweenOperationsAndGivesWayToThem) {
  std::atomic<int> rounds{0};
  auto engines = connectedEngines(testConfig(), &rounds);
  const auto giveUp = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (rounds.load() < 10 && std::chrono::steady_clock::now() < giveUp) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_GE(rounds.load(), 10);
  for (int round = 0; round < 200; ++round) {
    std::vector<uint8_t> sent(64, static_cast<uint8_t>(round));
    std::vector<uint8_t> received(64, 0);
    auto send = oneStep(StepKind::kSend, 1, sent);
    auto recv = oneStep(StepKind::kRecv, 0, received);
    auto sendDone = send->request;
    auto recvDone = recv->request;
    std::thread receiver([&] { engines[1]->run(std::move(recv)); });
    engines[0]->run(std::move(send));
    receiver.join();
    ASSERT_EQ(sendDone->status(), Status::kSuccess) << sendDone->message();
    ASSERT_EQ(recvDone->status(), Status::kSuccess) << recvDone->message();
    ASSERT_EQ(received, sent) << "round " << round;
    if (round % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
}

// Without a connection that needs it, the idle engine sleeps: no idle rounds.
TEST(EngineTcp, NoIdleProgressWhereNoConnectionNeedsIt) {
  std::atomic<int> rounds{0};
  auto engines = connectedEngines(testConfig(), &rounds, false);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(rounds.load(), 0);
}

}  // namespace
}  // namespace gccl
