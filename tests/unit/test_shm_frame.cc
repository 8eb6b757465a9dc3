// A shared-memory connection fed hand-made single-copy records: the peer is this test, writing
// into the pair's ring through a second mapping of the segment and reading its own memory with
// process_vm_readv. A descriptor that lies, an address that is not mapped, a peer that aborts
// or exits while its buffer is read: each fails the receive naming the peer, never a read of
// the wrong size or a receive that completes with data that cannot be trusted.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/shareable_memory.h"
#include "base/socket.h"
#include "transport/frame.h"
#include "transport/shm/cma.h"
#include "transport/shm/shm_connection.h"
#include "transport/shm/shm_segment.h"

namespace gccl::transport::shm {
namespace {

constexpr size_t kRingBytes = 4096;
constexpr size_t kBytes = kCmaMinBytes;  // the smallest single-copy message

// Copies `bytes` from `from` into the peer's memory behind the receive's writable view, at
// `offset`, as the engine's write-back does (with the result computed in place of the copy).
void writeIntoView(Connection& connection, Message& message, size_t offset, const void* from,
                   size_t bytes) {
  std::memcpy(connection.beginViewWrite(message, offset, bytes), from, bytes);
  connection.endViewWrite(message);
}

struct SingleCopyPair : testing::Test {
  Socket peerBell;
  SharedSegment peerView;  // the peer's mapping: it writes ring 1, this rank's receive ring
  std::unique_ptr<ShmConnection> connection;
  std::vector<char> source = std::vector<char>(kBytes, 's');  // the "peer's" buffer
  std::vector<char> target = std::vector<char>(kBytes, 't');
  Message message;

  void SetUp() override { connect(true); }

  // (Re)makes the pair: this rank's connection, and the receive of `message` posted on it.
  // `mapSend`: whether the peer proved it can map this rank's shareable regions; `cmaSend`
  // and `cmaReceive`: whether each direction can go single-copy; `writeBack`:
  // GCCL_SHM_WRITE_BACK.
  void connect(bool mapSend, bool cmaSend = true, bool cmaReceive = true, bool writeBack = true) {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    peerBell = Socket(fds[1]);
    SharedSegment segment = SharedSegment::create(kRingBytes);
    peerView = SharedSegment::adopt(::dup(segment.fd()), kRingBytes);
    PairSetup setup{.bell = Socket(fds[0]),
                    .segment = std::move(segment),
                    .sendRing = 0,
                    .peer = 1,
                    .peerName = "rank 1 (test)",
                    .peerPid = ::getpid(),
                    .peerProcess = PeerProcess::open(::getpid()),
                    .cmaSend = cmaSend,
                    .cmaReceive = cmaReceive,
                    .mapSend = mapSend,
                    .writeBack = writeBack};
    connection = std::make_unique<ShmConnection>(std::move(setup));
    message.header.collective = 1;
    message.header.sequence = 7;
    message.header.count = kBytes / sizeof(float);
    message.data = target.data();
    message.bytes = kBytes;
    connection->postRecv(message);
  }

  // Sends `bytes` from `data` and reads the record the peer gets, draining the ring as it
  // fills: the header, the body kind, then what follows it (a descriptor, or the payload).
  struct Record {
    FrameHeader header{};
    BodyKind kind{};
    std::vector<char> body;
  };
  Record sendAndRead(Message& send, const void* data, size_t bytes, size_t bodyBytes) {
    send.header = message.header;
    send.header.count = bytes;
    send.data = const_cast<void*>(data);
    send.bytes = bytes;
    connection->postSend(send);
    ByteRing sent = peerView.ring(0);
    std::vector<char> record(sizeof(FrameHeader) + sizeof(BodyKind) + bodyBytes);
    size_t got = 0;
    for (int round = 0; round < 100000 && got < record.size(); ++round) {
      got += sent.read(record.data() + got, record.size() - got);
      connection->progress();
    }
    Record parsed;
    EXPECT_EQ(got, record.size());
    EXPECT_EQ(sent.readable(), 0u) << "more than the record went into the ring";
    std::memcpy(&parsed.header, record.data(), sizeof parsed.header);
    std::memcpy(&parsed.kind, record.data() + sizeof parsed.header, sizeof parsed.kind);
    parsed.body.assign(record.begin() + sizeof(FrameHeader) + sizeof(BodyKind), record.end());
    return parsed;
  }

  // Writes the peer's record: the header, the body's kind, then a descriptor in place of the
  // payload.
  void sendDescriptor(uint64_t address, uint64_t bytes) {
    sendDescriptor(CmaDescriptor{address, bytes});
  }
  void sendDescriptor(const CmaDescriptor& descriptor, BodyKind kind = BodyKind::kDescriptor) {
    sendKind(kind);
    ASSERT_EQ(peerView.ring(1).write(&descriptor, sizeof descriptor), sizeof descriptor);
  }
  // The header and the body's kind alone (a delivered notice, or the start of a record).
  void sendKind(BodyKind kind) {
    FrameHeader header = message.header;
    header.bytes = kBytes;
    ASSERT_EQ(peerView.ring(1).write(&header, sizeof header), sizeof header);
    ASSERT_EQ(peerView.ring(1).write(&kind, sizeof kind), sizeof kind);
  }
  // A descriptor of `bytes` at `offset` in the shareable region at `base`, whose address
  // names the never-mapped first page: only a read of the mapping can succeed.
  static CmaDescriptor regionDescriptor(const void* base, uint64_t offset, uint64_t bytes) {
    CmaDescriptor descriptor = describeBuffer(base, 1);
    descriptor.address = 64;
    descriptor.bytes = bytes;
    descriptor.offset = offset;
    return descriptor;
  }

  Status receive(std::string* text) {
    try {
      for (int i = 0; i < 100 && !message.done; ++i) connection->progress();
    } catch (const Error& e) {
      *text = e.what();
      return e.status();
    }
    return Status::kSuccess;
  }

  // A send from `shared` (kBytes of shareable memory) that asks for write-back goes as a plain
  // descriptor: the connection does not offer it. (On a connection with no single-copy send
  // before it: the peer's ack here is its first.)
  void expectSendNotOffered(char* shared) {
    Message offered;
    offered.writeBackTo = shared;
    const Record record = sendAndRead(offered, shared, kBytes, sizeof(CmaDescriptor));
    EXPECT_EQ(record.kind, BodyKind::kDescriptor);
    EXPECT_FALSE(offered.writeBackOffered);
    peerView.ring(0).control().acked.fetch_add(1);  // read: done before it goes out of scope
    for (int i = 0; i < 10 && !offered.done; ++i) connection->progress();
    EXPECT_TRUE(offered.done);
  }

  // The peer offers a shareable buffer of kBytes, filled with 's', by a descriptor of `kind`,
  // and `message` receives it as a view. A writable descriptor names `destination` (kBytes of
  // shareable memory) for the result, or the buffer itself. Returns the buffer (the caller
  // frees it), or nullptr after reporting what failed.
  char* receiveView(BodyKind kind, char* destination = nullptr) {
    auto* shared = static_cast<char*>(allocateShareable(kBytes));
    if (shared == nullptr) {
      ADD_FAILURE() << "allocateShareable";
      return nullptr;
    }
    std::memset(shared, 's', kBytes);
    message.viewable = true;
    sendDescriptor(regionDescriptor(shared, 0, kBytes), kind);
    if (kind == BodyKind::kWritableDescriptor) {
      const CmaDescriptor to = regionDescriptor(destination ? destination : shared, 0, kBytes);
      EXPECT_EQ(peerView.ring(1).write(&to, sizeof to), sizeof to);
    }
    std::string text;
    if (receive(&text) != Status::kSuccess || message.view == nullptr) {
      ADD_FAILURE() << "no view received: " << text;
      freeShareable(shared);
      return nullptr;
    }
    return shared;
  }
};

TEST_F(SingleCopyPair, AGoodDescriptorIsReadAndAcked) {
  sendDescriptor(reinterpret_cast<uint64_t>(source.data()), kBytes);
  std::string text;
  EXPECT_EQ(receive(&text), Status::kSuccess) << text;
  EXPECT_TRUE(message.done);
  EXPECT_EQ(target, source);
  EXPECT_EQ(peerView.ring(1).control().acked.load(), 1u);
}

TEST_F(SingleCopyPair, ADescriptorOfAnotherSizeIsMalformed) {
  sendDescriptor(reinterpret_cast<uint64_t>(source.data()), kBytes * 4);
  std::string text;
  EXPECT_EQ(receive(&text), Status::kRemoteError);
  EXPECT_NE(text.find("malformed message from rank 1 (test)"), std::string::npos) << text;
  EXPECT_NE(text.find("single-copy of 4194304 B for a message of 1048576 B"), std::string::npos)
      << text;
  EXPECT_EQ(target[0], 't') << "nothing may be read for a lying descriptor";
}

TEST_F(SingleCopyPair, AnUnmappedAddressFailsTheRead) {
  sendDescriptor(64, kBytes);  // the first page is never mapped
  std::string text;
  EXPECT_EQ(receive(&text), Status::kRemoteError);
  EXPECT_NE(text.find("single-copy read from rank 1 (test) failed"), std::string::npos) << text;
  EXPECT_EQ(peerView.ring(1).control().acked.load(), 0u);
}

// The peer's caller may reuse a buffer once its abort returns: a copy made around then is not
// trusted, even though it read without an error.
TEST_F(SingleCopyPair, APeerThatAbortedDuringTheReadFailsIt) {
  sendDescriptor(reinterpret_cast<uint64_t>(source.data()), kBytes);
  peerView.ring(1).control().producerAborted.store(1);
  std::string text;
  EXPECT_EQ(receive(&text), Status::kRemoteError);
  EXPECT_NE(text.find("cut short: the peer aborted"), std::string::npos) << text;
  EXPECT_FALSE(message.done);
  EXPECT_EQ(peerView.ring(1).control().acked.load(), 0u);
}

// An aborting peer raises its flag before it writes its notice: a reader that sees the flag
// first still reports the peer's reason (and status), not a bare "cut short".
TEST_F(SingleCopyPair, APeerThatAbortedDuringTheReadIsHeardOutWhenItsNoticeFollows) {
  sendDescriptor(reinterpret_cast<uint64_t>(source.data()), kBytes);
  peerView.ring(1).control().producerAborted.store(1);
  const std::string reason = "rank 1 aborted: gcclCommAbort was called";
  std::thread peer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const FrameHeader header =
        failureNoticeHeader(static_cast<int>(Status::kInvalidUsage), reason.size());
    peerView.ring(1).write(&header, sizeof header);
    peerView.ring(1).write(reason.data(), reason.size());
  });
  std::string text;
  const Status status = receive(&text);
  peer.join();
  EXPECT_EQ(status, Status::kInvalidUsage) << text;
  EXPECT_NE(text.find("rank 1 (test) reported: " + reason), std::string::npos) << text;
  EXPECT_EQ(peerView.ring(1).control().acked.load(), 0u);
}

// A killed peer sets no flag, but its bell hangs up: after that its pid may be another
// process's, so what the read copied is not trusted either.
TEST_F(SingleCopyPair, APeerWhoseBellHungUpFailsTheRead) {
  sendDescriptor(reinterpret_cast<uint64_t>(source.data()), kBytes);
  peerBell = Socket();
  std::string text;
  EXPECT_EQ(receive(&text), Status::kRemoteError);
  EXPECT_NE(text.find("cut short: the peer exited"), std::string::npos) << text;
  EXPECT_FALSE(message.done);
  EXPECT_EQ(peerView.ring(1).control().acked.load(), 0u);
}

TEST_F(SingleCopyPair, AnUnknownBodyKindIsMalformed) {
  FrameHeader header = message.header;
  header.bytes = kBytes;
  const uint64_t kind = 7;
  ASSERT_EQ(peerView.ring(1).write(&header, sizeof header), sizeof header);
  ASSERT_EQ(peerView.ring(1).write(&kind, sizeof kind), sizeof kind);
  std::string text;
  EXPECT_EQ(receive(&text), Status::kRemoteError);
  EXPECT_NE(text.find("malformed message from rank 1 (test) (body kind 7)"), std::string::npos)
      << text;
}

// From a shareable region the receiver reads its own mapping of the peer's file: the
// descriptor's address names an unmapped page, which process_vm_readv could not read.
TEST_F(SingleCopyPair, ARegionIsCopiedFromTheMappingAndAcked) {
  auto* shared = static_cast<char*>(allocateShareable(2 * kBytes));
  ASSERT_NE(shared, nullptr);
  std::memset(shared + kBytes, 's', kBytes);
  sendDescriptor(regionDescriptor(shared, kBytes, kBytes));
  std::string text;
  EXPECT_EQ(receive(&text), Status::kSuccess) << text;
  EXPECT_EQ(target, source);
  EXPECT_EQ(message.view, nullptr);
  EXPECT_EQ(peerView.ring(1).control().acked.load(), 1u);
  EXPECT_TRUE(freeShareable(shared));
}

// A receive that takes a view gets the peer's bytes where they lie; the peer's buffer stays
// held (no ack), and nothing more is delivered from the peer, until the view is released.
TEST_F(SingleCopyPair, AViewHoldsThePeersBufferAndTheRingUntilReleased) {
  auto* shared = static_cast<char*>(allocateShareable(kBytes));
  ASSERT_NE(shared, nullptr);
  std::memset(shared, 's', kBytes);
  message.viewable = true;
  sendDescriptor(regionDescriptor(shared, 0, kBytes));
  float next = 0;
  Message second;
  second.header = message.header;
  second.header.count = 1;
  second.data = &next;
  second.bytes = sizeof next;
  connection->postRecv(second);
  FrameHeader header = second.header;
  header.bytes = sizeof next;
  const float value = 3.5f;
  ASSERT_EQ(peerView.ring(1).write(&header, sizeof header), sizeof header);
  ASSERT_EQ(peerView.ring(1).write(&value, sizeof value), sizeof value);

  std::string text;
  EXPECT_EQ(receive(&text), Status::kSuccess) << text;
  ASSERT_NE(message.view, nullptr);
  EXPECT_EQ(std::memcmp(message.view, source.data(), kBytes), 0);
  EXPECT_EQ(target[0], 't') << "a view is not copied";
  for (int i = 0; i < 10; ++i) connection->progress();
  EXPECT_FALSE(second.done) << "delivered while a view was out";
  EXPECT_EQ(peerView.ring(1).control().acked.load(), 0u);

  connection->releaseView(message);
  EXPECT_EQ(message.view, nullptr);
  EXPECT_EQ(peerView.ring(1).control().acked.load(), 1u);
  for (int i = 0; i < 10 && !second.done; ++i) connection->progress();
  EXPECT_TRUE(second.done);
  EXPECT_EQ(next, 3.5f);
  EXPECT_TRUE(freeShareable(shared));
}

// The peer's caller may reuse its buffer once its abort returns: a view used around then is
// not trusted, and the release fails instead of acking.
TEST_F(SingleCopyPair, AViewReleasedAfterThePeerAbortedFailsIt) {
  auto* shared = static_cast<char*>(allocateShareable(kBytes));
  ASSERT_NE(shared, nullptr);
  message.viewable = true;
  sendDescriptor(regionDescriptor(shared, 0, kBytes));
  std::string text;
  ASSERT_EQ(receive(&text), Status::kSuccess) << text;
  ASSERT_NE(message.view, nullptr);
  peerView.ring(1).control().producerAborted.store(1);
  try {
    connection->releaseView(message);
    ADD_FAILURE() << "released a view the aborted peer may have reused";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kRemoteError);
    EXPECT_NE(std::string(e.what()).find("cut short: the peer aborted"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(peerView.ring(1).control().acked.load(), 0u);
  EXPECT_TRUE(freeShareable(shared));
}

// A peer that aborts and frees its buffer leaves a descriptor naming a file it no longer has:
// the reader reports the peer's notice, not a malformed message.
TEST_F(SingleCopyPair, ARegionGoneWithAnAbortedPeerReportsItsNotice) {
  auto* shared = static_cast<char*>(allocateShareable(kBytes));
  ASSERT_NE(shared, nullptr);
  CmaDescriptor descriptor = regionDescriptor(shared, 0, kBytes);
  EXPECT_TRUE(freeShareable(shared));  // its descriptor number now names nothing
  sendDescriptor(descriptor);
  peerView.ring(1).control().producerAborted.store(1);
  const std::string reason = "rank 1 aborted: gcclCommAbort was called";
  const FrameHeader header =
      failureNoticeHeader(static_cast<int>(Status::kInvalidUsage), reason.size());
  peerView.ring(1).write(&header, sizeof header);
  peerView.ring(1).write(reason.data(), reason.size());
  std::string text;
  EXPECT_EQ(receive(&text), Status::kInvalidUsage) << text;
  EXPECT_NE(text.find("rank 1 (test) reported: " + reason), std::string::npos) << text;
  EXPECT_EQ(peerView.ring(1).control().acked.load(), 0u);
}

// Write-back in place: a writable descriptor whose destination is its own payload gives a view
// the receiver writes the result into, in the peer's own buffer, before the release acks it.
TEST_F(SingleCopyPair, AWritableViewTakesTheResultIntoThePeersBuffer) {
  char* shared = receiveView(BodyKind::kWritableDescriptor);
  ASSERT_NE(shared, nullptr);
  EXPECT_NE(message.writeView, nullptr);
  const std::vector<char> result(1000, 'r');
  writeIntoView(*connection, message, 5000, result.data(), result.size());
  EXPECT_EQ(std::memcmp(shared + 5000, result.data(), result.size()), 0);
  EXPECT_EQ(shared[4999], 's');
  EXPECT_EQ(shared[6000], 's');
  EXPECT_EQ(peerView.ring(1).control().consumerWritingView.load(), 0u);
  connection->releaseView(message);
  EXPECT_EQ(message.writeView, nullptr);
  EXPECT_EQ(peerView.ring(1).control().acked.load(), 1u);
  EXPECT_TRUE(freeShareable(shared));
}

// Out of place, the writable descriptor's second descriptor names the peer's output: the
// result lands there, and the payload the view reads is left as it was.
TEST_F(SingleCopyPair, AWriteBackLandsInItsDestinationNotInThePayload) {
  auto* destination = static_cast<char*>(allocateShareable(kBytes));
  ASSERT_NE(destination, nullptr);
  std::memset(destination, 'd', kBytes);
  char* shared = receiveView(BodyKind::kWritableDescriptor, destination);
  ASSERT_NE(shared, nullptr);
  ASSERT_NE(message.writeView, nullptr);
  EXPECT_NE(message.writeView, message.view);
  const std::vector<char> result(1000, 'r');
  writeIntoView(*connection, message, 5000, result.data(), result.size());
  writeIntoView(*connection, message, 7003, result.data(), 333);
  EXPECT_EQ(std::count(destination, destination + kBytes, 'r'), 1333);
  EXPECT_EQ(std::memcmp(destination + 5000, result.data(), result.size()), 0);
  EXPECT_EQ(std::memcmp(destination + 7003, result.data(), 333), 0);
  EXPECT_EQ(destination[4999], 'd');
  EXPECT_EQ(destination[6000], 'd');
  EXPECT_EQ(std::count(shared, shared + kBytes, 's'), static_cast<long>(kBytes));
  connection->releaseView(message);
  EXPECT_EQ(message.writeView, nullptr);
  EXPECT_EQ(peerView.ring(1).control().acked.load(), 1u);
  EXPECT_TRUE(freeShareable(shared));
  EXPECT_TRUE(freeShareable(destination));
}

// The ring may hand over a record in pieces: one cut inside the second descriptor is read on
// from where it stopped.
TEST_F(SingleCopyPair, AWritableDescriptorCutInTheDestinationIsReadOnWhereItStopped) {
  auto* shared = static_cast<char*>(allocateShareable(2 * kBytes));
  ASSERT_NE(shared, nullptr);
  message.viewable = true;
  sendDescriptor(regionDescriptor(shared, 0, kBytes), BodyKind::kWritableDescriptor);
  const CmaDescriptor to = regionDescriptor(shared, kBytes, kBytes);
  const auto* bytes = reinterpret_cast<const char*>(&to);
  ASSERT_EQ(peerView.ring(1).write(bytes, 20), 20u);
  connection->progress();
  EXPECT_FALSE(message.done) << "half a destination cannot complete the receive";
  ASSERT_EQ(peerView.ring(1).write(bytes + 20, sizeof to - 20), sizeof to - 20);
  std::string text;
  ASSERT_EQ(receive(&text), Status::kSuccess) << text;
  ASSERT_NE(message.view, nullptr);
  EXPECT_EQ(static_cast<const char*>(message.writeView) - static_cast<const char*>(message.view),
            static_cast<long>(kBytes))
      << "the destination is the second half of the same region";
  connection->releaseView(message);
  EXPECT_TRUE(freeShareable(shared));
}

// A destination of another size than the message is a malformed message, as a payload's is.
TEST_F(SingleCopyPair, ADestinationOfAnotherSizeIsMalformed) {
  auto* shared = static_cast<char*>(allocateShareable(2 * kBytes));
  ASSERT_NE(shared, nullptr);
  message.viewable = true;
  sendDescriptor(regionDescriptor(shared, 0, kBytes), BodyKind::kWritableDescriptor);
  const CmaDescriptor to = regionDescriptor(shared, 0, 2 * kBytes);
  ASSERT_EQ(peerView.ring(1).write(&to, sizeof to), sizeof to);
  std::string text;
  EXPECT_EQ(receive(&text), Status::kRemoteError);
  EXPECT_NE(text.find("malformed message from rank 1 (test)"), std::string::npos) << text;
  EXPECT_NE(text.find("single-copy of 2097152 B for a message of 1048576 B"), std::string::npos)
      << text;
  EXPECT_EQ(message.view, nullptr);
  EXPECT_TRUE(freeShareable(shared));
}

// Single-copy may work one way only (a ptrace policy that lets an ancestor read its child and
// not the reverse). Then the result's message back could carry no body kind, so no notice:
// a writable descriptor from the peer gives a read-only view, and this rank offers nothing.
TEST_F(SingleCopyPair, WriteBackNeedsSingleCopyBothWays) {
  connect(true, /*cmaSend=*/false, /*cmaReceive=*/true);
  char* shared = receiveView(BodyKind::kWritableDescriptor);
  ASSERT_NE(shared, nullptr);
  EXPECT_EQ(message.writeView, nullptr) << "no notice could say it was written";
  connection->releaseView(message);

  connect(true, /*cmaSend=*/true, /*cmaReceive=*/false);
  expectSendNotOffered(shared);
  EXPECT_TRUE(freeShareable(shared));
}

// GCCL_SHM_WRITE_BACK=0: this rank neither writes into what a peer offers nor offers its own.
TEST_F(SingleCopyPair, WriteBackSwitchedOffIsNeitherTakenNorOffered) {
  connect(true, true, true, /*writeBack=*/false);
  char* shared = receiveView(BodyKind::kWritableDescriptor);
  ASSERT_NE(shared, nullptr);
  EXPECT_EQ(message.writeView, nullptr);
  connection->releaseView(message);
  expectSendNotOffered(shared);
  EXPECT_TRUE(freeShareable(shared));
}

// A plain descriptor's view is read-only: writing into it is the engine's bug, refused.
TEST_F(SingleCopyPair, AViewNotOfferedForWriteBackIsNotWritten) {
  char* shared = receiveView(BodyKind::kDescriptor);
  ASSERT_NE(shared, nullptr);
  EXPECT_EQ(message.writeView, nullptr);
  const char result[4] = {'r', 'r', 'r', 'r'};
  try {
    writeIntoView(*connection, message, 0, result, sizeof result);
    ADD_FAILURE() << "wrote into a view the peer did not offer";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kInternalError);
  }
  EXPECT_EQ(shared[0], 's');
  connection->releaseView(message);
  EXPECT_TRUE(freeShareable(shared));
}

// An abort waits for at most one block being written (kWriteBackBlockBytes): a write of more
// is the engine's bug, refused before anything is written or the peer told of a writer.
TEST_F(SingleCopyPair, AViewWriteOfMoreThanOneBlockIsRefused) {
  char* shared = receiveView(BodyKind::kWritableDescriptor);
  ASSERT_NE(shared, nullptr);
  ASSERT_NE(message.writeView, nullptr);
  const std::vector<char> result(kWriteBackBlockBytes + 1, 'r');
  try {
    writeIntoView(*connection, message, 0, result.data(), result.size());
    ADD_FAILURE() << "wrote more than one block at once";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kInternalError);
    EXPECT_NE(std::string(e.what()).find("more than one block"), std::string::npos) << e.what();
  }
  EXPECT_EQ(std::count(shared, shared + kBytes, 's'), static_cast<long>(kBytes));
  EXPECT_EQ(peerView.ring(1).control().consumerWritingView.load(), 0u);
  connection->releaseView(message);
  EXPECT_TRUE(freeShareable(shared));
}

// Once the peer has aborted, its caller has its buffer back: nothing more is written into it,
// and the write fails naming the peer.
TEST_F(SingleCopyPair, AWriteBackAfterThePeerAbortedWritesNothing) {
  char* shared = receiveView(BodyKind::kWritableDescriptor);
  ASSERT_NE(shared, nullptr);
  ASSERT_NE(message.writeView, nullptr);
  peerView.ring(1).control().producerAborted.store(1);
  const std::vector<char> result(kWriteBackBlockBytes, 'r');
  try {
    writeIntoView(*connection, message, 0, result.data(), result.size());
    ADD_FAILURE() << "wrote into the buffer of a peer that aborted";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), Status::kRemoteError);
    EXPECT_NE(std::string(e.what()).find("rank 1 (test)"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("the peer aborted"), std::string::npos) << e.what();
  }
  EXPECT_EQ(std::count(shared, shared + kBytes, 's'), static_cast<long>(kBytes));
  EXPECT_EQ(peerView.ring(1).control().consumerWritingView.load(), 0u);
  EXPECT_TRUE(freeShareable(shared));
}

// The other side of that: an aborting rank whose peer is writing into its buffer waits for
// the write under way before its caller gets the buffer back.
TEST_F(SingleCopyPair, AnAbortWaitsForAWriteBackUnderWay) {
  std::atomic<uint32_t>& writing = peerView.ring(0).control().consumerWritingView;
  writing.store(1);
  std::atomic<bool> finished{false};
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    finished.store(true);
    writing.store(0);
  });
  connection->abort(Status::kInvalidUsage, "rank 0 aborted");
  EXPECT_TRUE(finished.load()) << "the abort returned while the peer was still writing";
  writer.join();
  EXPECT_EQ(peerView.ring(0).control().producerAborted.load(), 1u);
}

// A notice that the result was written in place completes a receive that offered write-back,
// copying nothing; to any other receive it is a malformed message.
TEST_F(SingleCopyPair, ADeliveredNoticeCompletesOnlyAReceiveThatOfferedWriteBack) {
  message.acceptsDelivered = true;
  sendKind(BodyKind::kDelivered);
  std::string text;
  ASSERT_EQ(receive(&text), Status::kSuccess) << text;
  EXPECT_TRUE(message.done);
  EXPECT_TRUE(message.delivered);
  EXPECT_EQ(target, std::vector<char>(kBytes, 't')) << "a notice copies nothing";

  message.done = false;  // posted afresh, accepting no notice
  message.delivered = false;
  message.acceptsDelivered = false;
  connect(true);
  sendKind(BodyKind::kDelivered);
  EXPECT_EQ(receive(&text), Status::kRemoteError);
  EXPECT_NE(text.find("malformed message from rank 1 (test)"), std::string::npos) << text;
  EXPECT_FALSE(message.delivered);
}

// The sending side: from and into gcclMemAlloc buffers a send that offers write-back goes as
// a writable descriptor, the payload's and the destination's (and says so); where the peer
// cannot map either (the heap), it goes as it would without the offer. A delivered notice is
// the kind alone, done without an ack.
TEST_F(SingleCopyPair, OnlyAMappableSendIsOfferedForWriteBack) {
  auto* shared = static_cast<char*>(allocateShareable(2 * kZeroCopyMinBytes));
  ASSERT_NE(shared, nullptr);
  Message offered;
  offered.writeBackTo = shared + kZeroCopyMinBytes;  // out of place: the rest of the region
  Record record = sendAndRead(offered, shared, kZeroCopyMinBytes, 2 * sizeof(CmaDescriptor));
  EXPECT_EQ(record.kind, BodyKind::kWritableDescriptor);
  EXPECT_TRUE(offered.writeBackOffered);
  CmaDescriptor descriptors[2];
  std::memcpy(descriptors, record.body.data(), sizeof descriptors);
  EXPECT_EQ(descriptors[0].offset, 0u);
  const CmaDescriptor destination = describeBuffer(shared + kZeroCopyMinBytes, kZeroCopyMinBytes);
  EXPECT_EQ(descriptors[1].region, destination.region);
  EXPECT_EQ(descriptors[1].offset, kZeroCopyMinBytes);
  EXPECT_EQ(descriptors[1].bytes, kZeroCopyMinBytes);
  peerView.ring(0).control().acked.store(1);
  for (int i = 0; i < 10 && !offered.done; ++i) connection->progress();
  EXPECT_TRUE(offered.done);

  // A payload the peer can map, with a destination it cannot: no offer.
  std::vector<char> heap(kBytes, 'h');
  Message toHeap;
  toHeap.writeBackTo = heap.data();
  record = sendAndRead(toHeap, shared, kZeroCopyMinBytes, sizeof(CmaDescriptor));
  EXPECT_EQ(record.kind, BodyKind::kDescriptor);
  EXPECT_FALSE(toHeap.writeBackOffered);
  peerView.ring(0).control().acked.store(2);
  for (int i = 0; i < 10 && !toHeap.done; ++i) connection->progress();
  EXPECT_TRUE(toHeap.done);

  Message fromHeap;
  fromHeap.writeBackTo = heap.data();
  record = sendAndRead(fromHeap, heap.data(), kBytes, sizeof(CmaDescriptor));
  EXPECT_EQ(record.kind, BodyKind::kDescriptor);
  EXPECT_FALSE(fromHeap.writeBackOffered);
  peerView.ring(0).control().acked.store(3);
  for (int i = 0; i < 10 && !fromHeap.done; ++i) connection->progress();
  EXPECT_TRUE(fromHeap.done);

  Message notice;
  notice.delivered = true;
  record = sendAndRead(notice, shared, kZeroCopyMinBytes, 0);
  EXPECT_EQ(record.kind, BodyKind::kDelivered);
  EXPECT_EQ(record.header.bytes, kZeroCopyMinBytes);
  for (int i = 0; i < 10 && !notice.done; ++i) connection->progress();
  EXPECT_TRUE(notice.done) << "a notice waits for no ack";
  EXPECT_EQ(peerView.ring(0).readable(), 0u) << "nothing follows the notice's kind";
  EXPECT_TRUE(freeShareable(shared));
}

// Between the zero-copy and the single-copy thresholds a message from the heap streams through
// the ring behind its body kind.
TEST_F(SingleCopyPair, ATaggedPayloadStreamsThroughTheRing) {
  std::vector<char> payload(kZeroCopyMinBytes);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7);
  std::vector<char> landed(payload.size(), 0);
  Message tagged;
  tagged.header = message.header;
  tagged.header.sequence = 8;
  tagged.data = landed.data();
  tagged.bytes = landed.size();
  // The receive posted at set-up: a descriptor first.
  sendDescriptor(reinterpret_cast<uint64_t>(source.data()), kBytes);
  std::string text;
  ASSERT_EQ(receive(&text), Status::kSuccess) << text;
  connection->postRecv(tagged);
  FrameHeader header = tagged.header;
  header.bytes = payload.size();
  const BodyKind kind = BodyKind::kPayload;
  std::vector<char> record(sizeof header + sizeof kind);
  std::memcpy(record.data(), &header, sizeof header);
  std::memcpy(record.data() + sizeof header, &kind, sizeof kind);
  record.insert(record.end(), payload.begin(), payload.end());
  size_t written = 0;
  for (int round = 0; round < 100000 && !tagged.done; ++round) {
    written += peerView.ring(1).write(record.data() + written, record.size() - written);
    connection->progress();
  }
  EXPECT_TRUE(tagged.done);
  EXPECT_EQ(written, record.size());
  EXPECT_EQ(landed, payload);
}

// From 64 KiB, a send from a gcclMemAlloc buffer names its region, and completes only when the
// peer acks its read.
TEST_F(SingleCopyPair, ASendFromASharedBufferNamesItsRegion) {
  auto* shared = static_cast<char*>(allocateShareable(2 * kZeroCopyMinBytes));
  ASSERT_NE(shared, nullptr);
  Message send;
  const Record record =
      sendAndRead(send, shared + kZeroCopyMinBytes, kZeroCopyMinBytes, sizeof(CmaDescriptor));
  EXPECT_EQ(record.header.bytes, kZeroCopyMinBytes);
  EXPECT_EQ(record.kind, BodyKind::kDescriptor);
  CmaDescriptor descriptor;
  std::memcpy(&descriptor, record.body.data(), sizeof descriptor);
  const CmaDescriptor expected = describeBuffer(shared + kZeroCopyMinBytes, kZeroCopyMinBytes);
  EXPECT_NE(descriptor.region, 0u);
  EXPECT_EQ(descriptor.region, expected.region);
  EXPECT_EQ(descriptor.offset, kZeroCopyMinBytes);
  EXPECT_EQ(descriptor.bytes, kZeroCopyMinBytes);
  EXPECT_EQ(descriptor.fd, expected.fd);
  for (int i = 0; i < 10; ++i) connection->progress();
  EXPECT_FALSE(send.done) << "done before the peer read it";
  peerView.ring(0).control().acked.store(1);
  for (int i = 0; i < 10 && !send.done; ++i) connection->progress();
  EXPECT_TRUE(send.done);
  EXPECT_TRUE(freeShareable(shared));
}

// Below 1 MiB a heap buffer streams through the ring behind its kind, and so does a shared one
// to a peer that cannot map it (it would copy with process_vm_readv, slower than the ring).
TEST_F(SingleCopyPair, BelowTheSingleCopyThresholdOtherBuffersGoAsPayloads) {
  std::vector<char> heap(kZeroCopyMinBytes);
  for (size_t i = 0; i < heap.size(); ++i) heap[i] = static_cast<char>(i * 13);
  auto* shared = static_cast<char*>(allocateShareable(kZeroCopyMinBytes));
  ASSERT_NE(shared, nullptr);
  std::memcpy(shared, heap.data(), heap.size());
  for (bool mapping : {true, false}) {
    connect(mapping);
    Message send;
    const Record record = sendAndRead(send, mapping ? static_cast<void*>(heap.data()) : shared,
                                      heap.size(), heap.size());
    EXPECT_EQ(record.kind, BodyKind::kPayload) << "mapping " << mapping;
    EXPECT_EQ(record.body, heap) << "mapping " << mapping;
    EXPECT_TRUE(send.done) << "a payload's send is done once written";
  }
  EXPECT_TRUE(freeShareable(shared));
}

// A small message goes into the ring as one record, header and payload copied together, when
// it fits; when it does not, as much as fits goes now and the rest once the reader frees room.
// Either way the reader gets the header and the payload intact.
TEST_F(SingleCopyPair, SmallRecordsArriveIntactWholeOrInParts) {
  ByteRing sent = peerView.ring(0);  // this rank's send ring, as the peer maps it
  float values[2] = {42.0f, -7.0f};
  Message small[2];
  for (int i = 0; i < 2; ++i) {
    small[i].header = message.header;
    small[i].header.count = 1;
    small[i].data = &values[i];
    small[i].bytes = sizeof(float);
  }
  auto expectRecord = [&](float expected) {
    FrameHeader header;
    float received = 0;
    ASSERT_EQ(sent.read(&header, sizeof header), sizeof header);
    ASSERT_EQ(sent.read(&received, sizeof received), sizeof received);
    EXPECT_EQ(header.bytes, sizeof(float));
    EXPECT_EQ(header.sequence, message.header.sequence);
    EXPECT_EQ(received, expected);
  };

  connection->postSend(small[0]);  // room for it: whole at once
  EXPECT_TRUE(small[0].done);
  ASSERT_EQ(sent.readable(), sizeof(FrameHeader) + sizeof(float));
  expectRecord(42.0f);

  // All but room for the header and half the payload taken, as by earlier sends.
  const std::vector<char> filler(kRingBytes - sizeof(FrameHeader) - 2, 'f');
  ASSERT_EQ(sent.write(filler.data(), filler.size()), filler.size());
  connection->postSend(small[1]);
  EXPECT_FALSE(small[1].done);
  EXPECT_EQ(sent.writable(), 0U) << "what fits goes now";
  std::vector<char> drained(filler.size());
  ASSERT_EQ(sent.read(drained.data(), drained.size()), drained.size());
  for (int i = 0; i < 100 && !small[1].done; ++i) connection->progress();
  EXPECT_TRUE(small[1].done);
  expectRecord(-7.0f);
}

}  // namespace
}  // namespace gccl::transport::shm
