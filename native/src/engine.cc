// See engine.h. The loop is level-triggered: after any event the whole relay is pumped both ways until
// nothing moves, then each descriptor is registered for exactly what the last attempts were waiting
// for (and removed from the set while it waits for nothing, so a hung-up socket cannot spin the loop).
// Flow control is the buffers' size: a side is read only while the buffer towards the other side has
// room, so a slow reader stops the writer at its kernel buffer, never in ours. Plain-to-plain
// directions splice through a pipe instead (the pipe is that direction's bounded buffer).
#include "engine.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pinhole {

namespace {

// One TLS record's payload: stunnel, HAProxy and nginx size their buffers around it (NATIVE.md 3).
constexpr size_t kRecord = 16384;
// Per direction; allocated while bytes wait, released when empty (idle relays hold no buffer). Each
// pass reads until it is full (many TLS records, or the socket's whole receive queue) and writes it
// in one send(), so a pass costs few syscalls: 256 KiB measured faster than 64 KiB towards the application.
constexpr size_t kBufferSize = 16 * kRecord;
// OpenSSL's read-ahead buffer: several records per recv().
constexpr size_t kReadAhead = 4 * kRecord;
// The longest answer head accepted from the gateway (Squid's default reply header limit is 64 KiB;
// Pinhole's gateway answers in a few hundred bytes).
constexpr size_t kHeadLimit = 16384;

// Plain relays splice through a pipe per direction (HAProxy's `option splice-auto`), pipes from a
// bounded pool; a direction with no pipe, or where splice() is not supported, copies through its buffer.
constexpr size_t kMaxPipes = 1024;
constexpr int kPipeSize = 256 * 1024;

std::string sslError(const char* what) {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return std::string(what) + (errno != 0 ? std::string(": ") + std::strerror(errno) : std::string());
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return std::string(what) + ": " + text;
}

std::string systemError(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

// A byte queue for one direction.
struct Buffer {
  std::unique_ptr<unsigned char[]> memory;
  size_t start = 0;
  size_t end = 0;

  size_t size() const { return end - start; }
  bool empty() const { return start == end; }
  unsigned char* data() { return memory.get() + start; }
  // Room at the tail, compacting or allocating as needed.
  size_t room() {
    if (!memory) return kBufferSize;
    if (start == end) start = end = 0;
    if (end == kBufferSize && start > 0) {
      std::memmove(memory.get(), memory.get() + start, end - start);
      end -= start;
      start = 0;
    }
    return kBufferSize - end;
  }
  unsigned char* tail() {
    if (!memory) memory.reset(new unsigned char[kBufferSize]);
    return memory.get() + end;
  }
  void consume(size_t n) {
    start += n;
    if (start == end) release();
  }
  void release() {
    memory.reset();
    start = end = 0;
  }
  // Puts bytes in front of what is queued (the application's 200 before the gateway's first bytes).
  bool prepend(const Bytes& bytes) {
    if (bytes.empty()) return true;
    if (size() + bytes.size() > kBufferSize) return false;
    std::unique_ptr<unsigned char[]> next(new unsigned char[kBufferSize]);
    std::memcpy(next.get(), bytes.data(), bytes.size());
    if (!empty()) std::memcpy(next.get() + bytes.size(), data(), size());
    end = bytes.size() + size();
    start = 0;
    memory = std::move(next);
    return true;
  }
  bool append(const Bytes& bytes) {
    if (bytes.empty()) return true;
    if (room() < bytes.size()) return false;
    std::memcpy(tail(), bytes.data(), bytes.size());
    end += bytes.size();
    return true;
  }
};

// One side of a relay: a plain descriptor, or a descriptor with a TLS session on it.
struct Side {
  int fd = -1;
  SSL* ssl = nullptr;
  bool readEnded = false;   // nothing more will come from this side
  bool writeEnded = false;  // this side's write direction has been shut (FIN or close_notify)
  int pendingWrite = 0;     // TLS: the length of an SSL_write to repeat after WANT_*
  Pipe pipe;                // plain relays: the pipe towards the other side (read from this side)
  size_t piped = 0;         // bytes in that pipe
  bool copyOnly = false;    // never splice from this side (no pipe free, unsupported, or asked)
  uint32_t wants = 0;       // what the last attempts on this descriptor wait for (EPOLLIN/EPOLLOUT)
  uint32_t registered = 0;  // what the epoll set holds for it (0: not in the set)
};

struct Relay {
  enum class State { Handshake, AwaitVerdict, Head, AwaitAttach, Relaying };
  uint32_t id = 0;
  State state = State::Relaying;
  Side a;  // the application (or the first plain side)
  Side b;  // the gateway (the TLS side when there is one)
  Buffer up;    // a -> b
  Buffer down;  // b -> a
  double bytesUp = 0;
  double bytesDown = 0;
  double spliced = 0;
  bool halfCloseUpSent = false;
  bool halfCloseDownSent = false;
  std::string servername;
  bool closed = false;
  Engine* engine = nullptr;
  // TLS: the peer was accepted by JavaScript; only then is a session offered for resumption.
  bool verified = false;
  SSL_SESSION* unverifiedSession = nullptr;
  std::shared_ptr<Counters> counters;
  // The silence watch: what the last sweep saw, and when something last moved.
  Limits limits;
  bool halfClosed = false;
  double seenMoved = -1;
  size_t seenQueued = 0;
  std::chrono::steady_clock::time_point lastActive{};
};

namespace {

enum class Io { Done, Again, Ended, Failed };

struct Outcome {
  Io io;
  size_t n = 0;
  uint32_t want = 0;
  std::string error;
};

Outcome tlsOutcome(SSL* ssl, int rc, const char* what) {
  int code = SSL_get_error(ssl, rc);
  switch (code) {
    case SSL_ERROR_WANT_READ:
      return {Io::Again, 0, EPOLLIN, {}};
    case SSL_ERROR_WANT_WRITE:
      return {Io::Again, 0, EPOLLOUT, {}};
    case SSL_ERROR_ZERO_RETURN:
      return {Io::Ended, 0, 0, {}};
    case SSL_ERROR_SYSCALL:
      if (errno == 0) return {Io::Ended, 0, 0, {}};
      return {Io::Failed, 0, 0, systemError(what)};
    default:
      return {Io::Failed, 0, 0, sslError(what)};
  }
}

Outcome readFrom(Side& side, unsigned char* into, size_t room) {
  if (side.ssl != nullptr) {
    errno = 0;
    int rc = SSL_read(side.ssl, into, static_cast<int>(room));
    if (rc > 0) return {Io::Done, static_cast<size_t>(rc), 0, {}};
    return tlsOutcome(side.ssl, rc, "TLS read");
  }
  ssize_t n = ::recv(side.fd, into, room, 0);
  if (n > 0) return {Io::Done, static_cast<size_t>(n), 0, {}};
  if (n == 0) return {Io::Ended, 0, 0, {}};
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return {Io::Again, 0, EPOLLIN, {}};
  return {Io::Failed, 0, 0, systemError("read")};
}

Outcome writeTo(Side& side, const unsigned char* from, size_t length) {
  if (side.ssl != nullptr) {
    int want = side.pendingWrite > 0 ? side.pendingWrite : static_cast<int>(length < kRecord ? length : kRecord);
    errno = 0;
    int rc = SSL_write(side.ssl, from, want);
    if (rc > 0) {
      side.pendingWrite = 0;
      return {Io::Done, static_cast<size_t>(rc), 0, {}};
    }
    Outcome outcome = tlsOutcome(side.ssl, rc, "TLS write");
    if (outcome.io == Io::Again) side.pendingWrite = want;
    if (outcome.io == Io::Ended) outcome = {Io::Failed, 0, 0, "TLS write: the peer closed the session"};
    return outcome;
  }
  ssize_t n = ::send(side.fd, from, length, MSG_NOSIGNAL);
  if (n >= 0) return {Io::Done, static_cast<size_t>(n), 0, {}};
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return {Io::Again, 0, EPOLLOUT, {}};
  return {Io::Failed, 0, 0, systemError("write")};
}

// Ends the side's write direction: close_notify on TLS (reading goes on, RFC 8446 6.1), FIN on plain.
Outcome shutWrite(Side& side) {
  if (side.ssl != nullptr) {
    errno = 0;
    int rc = SSL_shutdown(side.ssl);
    if (rc >= 0) return {Io::Done, 0, 0, {}};
    Outcome outcome = tlsOutcome(side.ssl, rc, "TLS close_notify");
    // A peer that already went away: nothing left to tell it.
    if (outcome.io == Io::Ended) return {Io::Done, 0, 0, {}};
    return outcome;
  }
  if (::shutdown(side.fd, SHUT_WR) == 0 || errno == ENOTCONN) return {Io::Done, 0, 0, {}};
  return {Io::Failed, 0, 0, systemError("shutdown")};
}

uint64_t tag(uint32_t id, bool sideB) { return (static_cast<uint64_t>(id) << 1) | (sideB ? 1 : 0); }

}  // namespace

Engine::Engine(Emit emit) : emit_(std::move(emit)) {}

Engine::~Engine() {
  stop();
  for (auto& entry : sessions_) SSL_SESSION_free(entry.second);
  for (auto& pipe : pipes_) {
    ::close(pipe.read);
    ::close(pipe.write);
  }
  if (clientContext_ != nullptr) SSL_CTX_free(clientContext_);
  if (wake_ >= 0) ::close(wake_);
  if (epoll_ >= 0) ::close(epoll_);
}

bool Engine::start(std::string* error) {
  epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_ < 0) {
    *error = systemError("epoll_create1");
    return false;
  }
  wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_ < 0) {
    *error = systemError("eventfd");
    return false;
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = UINT64_MAX;
  if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &event) != 0) {
    *error = systemError("epoll_ctl");
    return false;
  }
  clientContext_ = SSL_CTX_new(TLS_client_method());
  if (clientContext_ == nullptr) {
    *error = sslError("SSL_CTX_new");
    return false;
  }
  SSL_CTX_set_min_proto_version(clientContext_, TLS1_2_VERSION);
  // The certificate is judged by JavaScript (the pin, a CA, the OS store) before anything is sent.
  SSL_CTX_set_verify(clientContext_, SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_mode(clientContext_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  // A gateway that closes without close_notify ends its direction, as Node's TLS socket reads it.
  SSL_CTX_set_options(clientContext_, SSL_OP_IGNORE_UNEXPECTED_EOF);
  // Read several records per recv() instead of a header and a body each: SSL_read is always called
  // until it wants more (the relay loop), so records held inside OpenSSL are never left waiting.
  SSL_CTX_set_read_ahead(clientContext_, 1);
  SSL_CTX_set_default_read_buffer_len(clientContext_, kReadAhead);
  // Sessions arrive through the callback (TLS 1.3 tickets come after the handshake), kept by server name.
  SSL_CTX_set_session_cache_mode(clientContext_, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(clientContext_, &Engine::onNewSession);
  running_ = true;
  thread_ = std::thread([this] { run(); });
  return true;
}

void Engine::post(Command command) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    commands_.push_back(std::move(command));
  }
  uint64_t one = 1;
  ssize_t ignored = ::write(wake_, &one, sizeof one);
  (void)ignored;
}

void Engine::stop() {
  if (!thread_.joinable()) return;
  Command command;
  command.type = Command::Type::Stop;
  post(std::move(command));
  thread_.join();
}

void Engine::run() {
  epoll_event events[64];
  int timeout = -1;
  while (running_) {
    int n = ::epoll_wait(epoll_, events, 64, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n; i++) {
      uint64_t key = events[i].data.u64;
      if (key == UINT64_MAX) {
        uint64_t count;
        ssize_t ignored = ::read(wake_, &count, sizeof count);
        (void)ignored;
        drainCommands();
        continue;
      }
      auto found = relays_.find(static_cast<uint32_t>(key >> 1));
      if (found == relays_.end()) continue;
      pump(*found->second);
    }
    timeout = sweep();
  }
  for (auto& entry : relays_) finish(*entry.second, "the native byte path stopped", false);
  relays_.clear();
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& command : commands_) {
    if (command.fd >= 0) ::close(command.fd);
    if (command.fd2 >= 0) ::close(command.fd2);
  }
  commands_.clear();
}

void Engine::drainCommands() {
  std::deque<Command> batch;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    batch.swap(commands_);
  }
  for (auto& command : batch) handle(command);
  // Relays that ended while handling commands.
  for (auto it = relays_.begin(); it != relays_.end();) {
    if (it->second->closed)
      it = relays_.erase(it);
    else
      ++it;
  }
}

void Engine::handle(Command& command) {
  switch (command.type) {
    case Command::Type::Stop:
      running_ = false;
      return;
    case Command::Type::TlsConnect: {
      auto relay = std::make_unique<Relay>();
      relay->id = command.id;
      relay->state = Relay::State::Handshake;
      relay->b.fd = command.fd;
      command.fd = -1;
      relay->servername = command.servername;
      relay->counters = command.counters;
      Relay& r = *relay;
      relays_[command.id] = std::move(relay);
      SSL* ssl = SSL_new(clientContext_);
      if (ssl == nullptr || SSL_set_fd(ssl, r.b.fd) != 1) {
        if (ssl != nullptr) SSL_free(ssl);
        fail(r, sslError("SSL_new"));
        return;
      }
      r.b.ssl = ssl;
      r.engine = this;
      SSL_set_app_data(ssl, &r);
      SSL_set_connect_state(ssl);
      if (!r.servername.empty()) SSL_set_tlsext_host_name(ssl, r.servername.c_str());
      if (!command.alpn.empty()) SSL_set_alpn_protos(ssl, command.alpn.data(), static_cast<unsigned>(command.alpn.size()));
      auto cached = sessions_.find(r.servername);
      if (cached != sessions_.end()) SSL_set_session(ssl, cached->second);
      pump(r);
      return;
    }
    case Command::Type::Verified: {
      auto found = relays_.find(command.id);
      if (found == relays_.end() || found->second->state != Relay::State::AwaitVerdict || found->second->verified) return;
      Relay& r = *found->second;
      r.verified = true;
      if (r.unverifiedSession != nullptr) {
        keepSession(r, r.unverifiedSession);
        r.unverifiedSession = nullptr;
      }
      // No head yet: a warm pool's session, parked (and watched) until send() brings its CONNECT head.
      if (command.bytes.empty()) {
        pump(r);
        return;
      }
      if (!r.up.append(command.bytes)) {
        fail(r, "the CONNECT head is too large");
        return;
      }
      r.state = Relay::State::Head;
      pump(r);
      return;
    }
    case Command::Type::Send: {
      // Bytes for the gateway before its answer: a parked session's CONNECT head, then early bytes.
      // Once the answer is in (AwaitAttach) they wait in the buffer: sent only if JavaScript attaches.
      auto found = relays_.find(command.id);
      if (found == relays_.end() || found->second->closed) return;
      Relay& r = *found->second;
      bool parked = r.state == Relay::State::AwaitVerdict && r.verified;
      if (!parked && r.state != Relay::State::Head && r.state != Relay::State::AwaitAttach) return;
      if (!r.up.append(command.bytes)) {
        fail(r, "too many bytes before the gateway's answer");
        return;
      }
      if (parked) r.state = Relay::State::Head;
      pump(r);
      return;
    }
    case Command::Type::Attach: {
      auto found = relays_.find(command.id);
      if (found == relays_.end() || found->second->state != Relay::State::AwaitAttach) {
        if (command.fd >= 0) ::close(command.fd);
        return;
      }
      Relay& r = *found->second;
      r.a.fd = command.fd;
      command.fd = -1;
      watch(r, command.limits);
      if (!r.up.append(command.bytes) || !r.down.prepend(command.bytes2)) {
        fail(r, "the bytes handed over are too many");
        return;
      }
      r.state = Relay::State::Relaying;
      pump(r);
      return;
    }
    case Command::Type::Plain: {
      auto relay = std::make_unique<Relay>();
      relay->id = command.id;
      relay->state = Relay::State::Relaying;
      relay->a.fd = command.fd;
      relay->b.fd = command.fd2;
      command.fd = command.fd2 = -1;
      relay->a.copyOnly = relay->b.copyOnly = command.copy;
      relay->counters = command.counters;
      Relay& r = *relay;
      relays_[command.id] = std::move(relay);
      watch(r, command.limits);
      if (!r.up.append(command.bytes) || !r.down.append(command.bytes2)) {
        fail(r, "the bytes handed over are too many");
        return;
      }
      pump(r);
      return;
    }
    case Command::Type::Destroy: {
      auto found = relays_.find(command.id);
      if (found == relays_.end() || found->second->closed) return;
      finish(*found->second, "destroyed");
      return;
    }
  }
}

void Engine::pump(Relay& relay) {
  if (relay.closed) return;
  relay.a.wants = relay.b.wants = 0;
  switch (relay.state) {
    case Relay::State::Handshake:
      handshake(relay);
      break;
    case Relay::State::Head:
      exchangeHead(relay);
      break;
    case Relay::State::Relaying:
      relayBytes(relay);
      break;
    case Relay::State::AwaitVerdict:
      if (relay.verified) watchParked(relay);
      break;
    case Relay::State::AwaitAttach:
      break;
  }
  if (relay.counters) {
    relay.counters->up.store(static_cast<uint64_t>(relay.bytesUp), std::memory_order_relaxed);
    relay.counters->down.store(static_cast<uint64_t>(relay.bytesDown), std::memory_order_relaxed);
  }
  if (!relay.closed) updateInterest(relay);
  if (relay.closed) {
    uint32_t id = relay.id;
    relays_.erase(id);
  }
}

void Engine::handshake(Relay& relay) {
  errno = 0;
  int rc = SSL_do_handshake(relay.b.ssl);
  if (rc == 1) {
    relay.state = Relay::State::AwaitVerdict;
    emitSecure(relay);
    return;
  }
  Outcome outcome = tlsOutcome(relay.b.ssl, rc, "TLS handshake");
  if (outcome.io == Io::Again) {
    relay.b.wants |= outcome.want;
    return;
  }
  fail(relay, outcome.io == Io::Ended ? "TLS handshake: the gateway closed the connection" : outcome.error);
}

int Engine::onNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* relay = static_cast<Relay*>(SSL_get_app_data(ssl));
  if (relay == nullptr || relay->engine == nullptr) return 0;
  if (relay->verified) {
    relay->engine->keepSession(*relay, session);
  } else {
    if (relay->unverifiedSession != nullptr) SSL_SESSION_free(relay->unverifiedSession);
    relay->unverifiedSession = session;
  }
  return 1;  // the reference is ours
}

void Engine::keepSession(Relay& relay, SSL_SESSION* session) {
  auto& slot = sessions_[relay.servername];
  if (slot != nullptr) SSL_SESSION_free(slot);
  slot = session;
}

void Engine::emitSecure(Relay& relay) {
  auto* event = new Event();
  event->kind = EventKind::Secure;
  event->id = relay.id;
  event->resumed = SSL_session_reused(relay.b.ssl) == 1;
  const unsigned char* alpn = nullptr;
  unsigned alpnLength = 0;
  SSL_get0_alpn_selected(relay.b.ssl, &alpn, &alpnLength);
  if (alpn != nullptr) event->text.assign(reinterpret_cast<const char*>(alpn), alpnLength);
  // The client's chain has the leaf first (OpenSSL 3: SSL_get_peer_cert_chain includes it).
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(relay.b.ssl);
  int count = chain == nullptr ? 0 : sk_X509_num(chain);
  for (int i = 0; i < count; i++) {
    X509* certificate = sk_X509_value(chain, i);
    int length = i2d_X509(certificate, nullptr);
    if (length <= 0) continue;
    Bytes der(static_cast<size_t>(length));
    unsigned char* out = der.data();
    i2d_X509(certificate, &out);
    event->certificates.push_back(std::move(der));
  }
  emit_(event);
}

// A parked session must stay silent until its CONNECT head: reading processes what TLS sends after
// the handshake (tickets); a byte of data, a close or a reset ends it now, so the pool replaces it.
void Engine::watchParked(Relay& relay) {
  unsigned char byte;
  errno = 0;
  int rc = SSL_read(relay.b.ssl, &byte, 1);
  if (rc > 0) {
    fail(relay, "the gateway sent bytes before the CONNECT");
    return;
  }
  Outcome outcome = tlsOutcome(relay.b.ssl, rc, "TLS read");
  if (outcome.io == Io::Again) {
    relay.b.wants |= outcome.want;
    return;
  }
  fail(relay, outcome.io == Io::Ended ? "the gateway closed the connection" : outcome.error);
}

void Engine::exchangeHead(Relay& relay) {
  for (;;) {
    bool moved = false;
    if (!relay.up.empty()) {
      Outcome outcome = writeTo(relay.b, relay.up.data(), relay.up.size());
      if (outcome.io == Io::Done) {
        relay.up.consume(outcome.n);
        moved = true;
      } else if (outcome.io == Io::Again) {
        relay.b.wants |= outcome.want;
      } else {
        fail(relay, outcome.error);
        return;
      }
    }
    size_t room = relay.down.room();
    if (room == 0 || relay.down.size() >= kHeadLimit) {
      fail(relay, "the gateway's answer head is too large");
      return;
    }
    Outcome outcome = readFrom(relay.b, relay.down.tail(), room);
    if (outcome.io == Io::Done) {
      relay.down.end += outcome.n;
      moved = true;
      // The head ends at the first blank line; what follows belongs to the tunnel.
      const unsigned char* begin = relay.down.data();
      size_t size = relay.down.size();
      for (size_t i = 3; i < size; i++) {
        if (begin[i - 3] == '\r' && begin[i - 2] == '\n' && begin[i - 1] == '\r' && begin[i] == '\n') {
          auto* event = new Event();
          event->kind = EventKind::Head;
          event->id = relay.id;
          event->data.assign(begin, begin + i + 1);
          relay.down.consume(i + 1);
          relay.state = Relay::State::AwaitAttach;
          emit_(event);
          return;
        }
      }
    } else if (outcome.io == Io::Again) {
      relay.b.wants |= outcome.want;
    } else if (outcome.io == Io::Ended) {
      fail(relay, "the gateway closed the connection before answering");
      return;
    } else {
      fail(relay, outcome.error);
      return;
    }
    if (!moved) return;
  }
}

void Engine::relayBytes(Relay& relay) {
  struct Direction {
    Side& from;
    Side& to;
    Buffer& buffer;
    double& count;
    bool& halfCloseSent;
    int index;
  };
  Direction directions[2] = {{relay.a, relay.b, relay.up, relay.bytesUp, relay.halfCloseUpSent, 0},
                             {relay.b, relay.a, relay.down, relay.bytesDown, relay.halfCloseDownSent, 1}};
  for (;;) {
    bool moved = false;
    for (Direction& d : directions) {
      if (!spliceDirection(relay, d.from, d.to, d.buffer, d.count, moved)) return;
      // Fill the buffer (one TLS record per SSL_read, so several), then empty it: few large writes.
      while (!d.from.readEnded && d.from.pipe.read < 0) {
        size_t room = d.buffer.room();
        if (room == 0) break;
        Outcome outcome = readFrom(d.from, d.buffer.tail(), room);
        if (outcome.io == Io::Done) {
          d.buffer.end += outcome.n;
          d.count += static_cast<double>(outcome.n);
          moved = true;
        } else if (outcome.io == Io::Again) {
          d.from.wants |= outcome.want;
          if (d.buffer.empty()) d.buffer.release();
          break;
        } else if (outcome.io == Io::Ended) {
          d.from.readEnded = true;
          if (d.buffer.empty()) d.buffer.release();
          moved = true;
        } else {
          fail(relay, outcome.error);
          return;
        }
      }
      while (!d.buffer.empty()) {
        Outcome outcome = writeTo(d.to, d.buffer.data(), d.buffer.size());
        if (outcome.io == Io::Done) {
          d.buffer.consume(outcome.n);
          moved = true;
        } else if (outcome.io == Io::Again) {
          d.to.wants |= outcome.want;
          break;
        } else {
          fail(relay, outcome.error);
          return;
        }
      }
      if (d.from.readEnded && d.buffer.empty() && d.from.piped == 0 && !d.to.writeEnded) {
        if (d.from.pipe.read >= 0) givePipe(&d.from.pipe, true);
        Outcome outcome = shutWrite(d.to);
        if (outcome.io == Io::Done) {
          d.to.writeEnded = true;
          moved = true;
          if (!d.halfCloseSent) {
            d.halfCloseSent = true;
            auto* event = new Event();
            event->kind = EventKind::HalfClose;
            event->id = relay.id;
            event->direction = d.index;
            event->bytesUp = relay.bytesUp;
            event->bytesDown = relay.bytesDown;
            emit_(event);
          }
        } else if (outcome.io == Io::Again) {
          d.to.wants |= outcome.want;
        } else {
          fail(relay, outcome.error);
          return;
        }
      }
    }
    if (relay.a.readEnded && relay.b.readEnded && relay.a.writeEnded && relay.b.writeEnded && relay.up.empty() && relay.down.empty()) {
      finish(relay, "");
      return;
    }
    if (!moved) return;
  }
}

bool Engine::takePipe(Pipe* pipe) {
  if (!pipes_.empty()) {
    *pipe = pipes_.back();
    pipes_.pop_back();
    return true;
  }
  if (pipesOpen_ >= kMaxPipes) return false;
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC | O_NONBLOCK) != 0) return false;
  // Larger than the default 64 KiB when the system allows it (pipe-user-pages-soft); fine either way.
  (void)::fcntl(ends[1], F_SETPIPE_SZ, kPipeSize);
  pipe->read = ends[0];
  pipe->write = ends[1];
  pipesOpen_++;
  return true;
}

void Engine::givePipe(Pipe* pipe, bool empty) {
  if (pipe->read < 0) return;
  if (empty) {
    pipes_.push_back(*pipe);
  } else {
    ::close(pipe->read);
    ::close(pipe->write);
    pipesOpen_--;
  }
  pipe->read = pipe->write = -1;
}

// One direction of a plain relay through its pipe: the socket's bytes into the pipe, the pipe's into
// the other socket, until either would block. Returns false when the relay failed. A side takes a pipe
// only once its buffer is empty (bytes handed over go first) and keeps it until its direction ends.
bool Engine::spliceDirection(Relay& relay, Side& from, Side& to, Buffer& buffer, double& count, bool& moved) {
  if (from.ssl != nullptr || to.ssl != nullptr || from.copyOnly) return true;
  if (from.pipe.read < 0) {
    if (from.readEnded || !buffer.empty()) return true;
    if (!takePipe(&from.pipe)) {
      from.copyOnly = true;
      return true;
    }
  }
  for (;;) {
    bool progress = false;
    if (!from.readEnded) {
      ssize_t n = ::splice(from.fd, nullptr, from.pipe.write, nullptr, kPipeSize, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        from.piped += static_cast<size_t>(n);
        count += static_cast<double>(n);
        relay.spliced += static_cast<double>(n);
        progress = moved = true;
      } else if (n == 0) {
        from.readEnded = true;
        progress = moved = true;
      } else if (errno == EAGAIN || errno == EINTR) {
        // With bytes in the pipe, EAGAIN may mean the pipe is full: draining it pumps again, and
        // waiting for input on a readable socket would spin the level-triggered loop.
        if (from.piped == 0) from.wants |= EPOLLIN;
      } else if ((errno == EINVAL || errno == ENOSYS) && from.piped == 0 && count == 0) {
        givePipe(&from.pipe, true);  // not spliceable here: copy instead
        from.copyOnly = true;
        return true;
      } else {
        fail(relay, systemError("read"));
        return false;
      }
    }
    if (from.piped > 0) {
      ssize_t n = ::splice(from.pipe.read, nullptr, to.fd, nullptr, from.piped, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        from.piped -= static_cast<size_t>(n);
        progress = moved = true;
      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        to.wants |= EPOLLOUT;
      } else {
        fail(relay, systemError("write"));
        return false;
      }
    }
    if (!progress) return true;
  }
}

void Engine::updateInterest(Relay& relay) {
  for (int i = 0; i < 2; i++) {
    Side& side = i == 0 ? relay.a : relay.b;
    if (side.fd < 0 || side.wants == side.registered) continue;
    epoll_event event{};
    event.events = side.wants;
    event.data.u64 = tag(relay.id, i == 1);
    int op = side.registered == 0 ? EPOLL_CTL_ADD : side.wants == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
    if (::epoll_ctl(epoll_, op, side.fd, &event) != 0) {
      fail(relay, systemError("epoll_ctl"));
      return;
    }
    side.registered = side.wants;
  }
}

void Engine::watch(Relay& relay, Limits limits) {
  relay.limits = limits;
  relay.lastActive = std::chrono::steady_clock::now();
  uint32_t shortest = limits.idleMs;
  if (limits.halfCloseMs > 0 && (shortest == 0 || limits.halfCloseMs < shortest)) shortest = limits.halfCloseMs;
  if (shortest == 0) return;
  uint32_t tick = shortest / 4 > 10 ? shortest / 4 : 10;
  if (sweepMs_ == 0 || tick < sweepMs_) {
    sweepMs_ = tick;
    nextSweep_ = relay.lastActive + std::chrono::milliseconds(tick);
  }
}

// The silence watch, as node/relay.ts keeps it: nothing per chunk; a coarse tick compares each
// relay's byte counts and queued bytes with what the last tick saw. A relay with no change for its
// limit (the idle limit, or once a direction has ended the shorter half-close limit) is ended.
int Engine::sweep() {
  if (sweepMs_ == 0) return -1;
  auto now = std::chrono::steady_clock::now();
  if (now < nextSweep_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(nextSweep_ - now).count();
    return static_cast<int>(left) + 1;
  }
  uint32_t shortest = 0;
  std::vector<Relay*> expired;
  for (auto& entry : relays_) {
    Relay& r = *entry.second;
    if (r.closed || r.state != Relay::State::Relaying || (r.limits.idleMs == 0 && r.limits.halfCloseMs == 0)) continue;
    bool halfClosed = r.a.readEnded || r.b.readEnded;
    if (halfClosed && !r.halfClosed) {
      r.halfClosed = true;
      r.lastActive = now;
    }
    // The tick follows the shortest limit the relay can have (a half-close may come at any time).
    uint32_t possible = r.limits.idleMs;
    if (r.limits.halfCloseMs > 0 && (possible == 0 || r.limits.halfCloseMs < possible)) possible = r.limits.halfCloseMs;
    if (shortest == 0 || possible < shortest) shortest = possible;
    uint32_t limit = r.limits.idleMs;
    if (r.halfClosed && r.limits.halfCloseMs > 0 && (limit == 0 || r.limits.halfCloseMs < limit)) limit = r.limits.halfCloseMs;
    if (limit == 0) continue;
    double moved = r.bytesUp + r.bytesDown;
    size_t queued = r.up.size() + r.down.size() + r.a.piped + r.b.piped;
    if (moved != r.seenMoved || queued != r.seenQueued) {
      r.seenMoved = moved;
      r.seenQueued = queued;
      r.lastActive = now;
    } else if (now - r.lastActive >= std::chrono::milliseconds(limit)) {
      expired.push_back(&r);
    }
  }
  for (Relay* r : expired) {
    uint32_t id = r->id;
    finish(*r, r->halfClosed ? "PINHOLE_RELAY_TIMEOUT half-close" : "PINHOLE_RELAY_TIMEOUT idle");
    relays_.erase(id);
  }
  if (shortest == 0) {
    sweepMs_ = 0;
    return -1;
  }
  sweepMs_ = shortest / 4 > 10 ? shortest / 4 : 10;
  nextSweep_ = now + std::chrono::milliseconds(sweepMs_);
  return static_cast<int>(sweepMs_);
}

void Engine::fail(Relay& relay, const std::string& error) { finish(relay, error.empty() ? "failed" : error); }

void Engine::finish(Relay& relay, const std::string& error, bool notify) {
  if (relay.closed) return;
  relay.closed = true;
  for (Side* side : {&relay.a, &relay.b}) {
    if (side->pipe.read >= 0) givePipe(&side->pipe, side->piped == 0);
    side->piped = 0;
    if (side->registered != 0) ::epoll_ctl(epoll_, EPOLL_CTL_DEL, side->fd, nullptr);
    side->registered = 0;
    if (side->ssl != nullptr) {
      // A session whose handshake failed, or that was refused, is not offered again.
      if (!error.empty() && (relay.state == Relay::State::Handshake || (relay.state == Relay::State::AwaitVerdict && !relay.verified))) {
        auto cached = sessions_.find(relay.servername);
        if (cached != sessions_.end()) {
          SSL_SESSION_free(cached->second);
          sessions_.erase(cached);
        }
      }
      SSL_set_app_data(side->ssl, nullptr);
      SSL_free(side->ssl);
      side->ssl = nullptr;
    }
    if (side->fd >= 0) ::close(side->fd);
    side->fd = -1;
  }
  if (relay.unverifiedSession != nullptr) SSL_SESSION_free(relay.unverifiedSession);
  relay.unverifiedSession = nullptr;
  relay.up.release();
  relay.down.release();
  ERR_clear_error();
  if (!notify) return;
  auto* event = new Event();
  event->kind = EventKind::Close;
  event->id = relay.id;
  event->bytesUp = relay.bytesUp;
  event->bytesDown = relay.bytesDown;
  event->spliced = relay.spliced;
  event->text = error;
  emit_(event);
}

}  // namespace pinhole
