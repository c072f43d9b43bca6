// The native byte path's engine: one thread, one epoll set, many relays.
//
// JavaScript keeps every decision (which gateway, the pin check, the CONNECT head and its answer,
// policy); it hands descriptors here and hears back only events: a TLS session is up (with the peer's
// certificates), the answer's head arrived, a direction ended, a relay closed (with byte counts and the
// reason). No chunk of payload ever crosses back into JavaScript.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace pinhole {

using Bytes = std::vector<unsigned char>;

enum class EventKind : int { Secure = 1, Head = 2, HalfClose = 3, Close = 4 };

struct Event {
  EventKind kind = EventKind::Close;
  uint32_t id = 0;
  double bytesUp = 0;    // read from the first side (the application / side a), written to the second
  double bytesDown = 0;  // read from the second side (the gateway / side b), written to the first
  std::vector<Bytes> certificates;  // Secure: the peer's chain as DER, leaf first
  std::string text;                 // Secure: the ALPN protocol; Close: the error (empty when clean)
  bool resumed = false;             // Secure: the TLS session was resumed
  int direction = 0;                // HalfClose: 0 = up (a -> b) ended, 1 = down (b -> a) ended
  Bytes data;                       // Head: the answer's head, up to and including the blank line
  double spliced = 0;               // Close: bytes moved with splice() (plain relays), not copied
};

// A relay's byte counts as JavaScript may read them at any time (status, /metrics): written by the
// engine thread once per pump, never per chunk.
struct Counters {
  std::atomic<uint64_t> up{0};
  std::atomic<uint64_t> down{0};
};

// How long a relay may stay silent (node/relay.ts RelayTimeouts), in milliseconds; 0: no limit.
struct Limits {
  uint32_t idleMs = 0;
  uint32_t halfCloseMs = 0;
};

// Called on the engine thread; the receiver owns the event.
using Emit = std::function<void(Event*)>;

struct Command {
  enum class Type { TlsConnect, Verified, Attach, Plain, Destroy, Stop, Send } type = Type::Stop;
  uint32_t id = 0;
  int fd = -1;   // owned by the command until the engine takes it
  int fd2 = -1;
  std::string servername;
  Bytes alpn;    // wire format: length-prefixed protocol names
  Bytes bytes;   // Verified: the head to send (empty: park); Send: bytes before the answer; Attach/Plain: bytes for side b first
  Bytes bytes2;  // Attach/Plain: bytes for side a first
  bool copy = false;  // Plain: copy through buffers, never splice (tests, and a fallback to compare)
  Limits limits;     // Attach/Plain
  std::shared_ptr<Counters> counters;  // TlsConnect/Plain: shared with JavaScript
};

// A pipe for splice(): the kernel moves bytes socket -> pipe -> socket without copying them to us.
struct Pipe {
  int read = -1;
  int write = -1;
};

struct Relay;
struct Side;
struct Buffer;

class Engine {
 public:
  explicit Engine(Emit emit);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Creates the epoll set, the wake-up descriptor and the client TLS context, then the thread.
  bool start(std::string* error);
  // Queues a command for the engine thread (any thread).
  void post(Command command);
  // Ends every relay (no events) and joins the thread.
  void stop();

 private:
  void run();
  void drainCommands();
  void handle(Command& command);
  void pump(Relay& relay);
  void handshake(Relay& relay);
  void exchangeHead(Relay& relay);
  void watchParked(Relay& relay);
  void relayBytes(Relay& relay);
  bool spliceDirection(Relay& relay, Side& from, Side& to, Buffer& buffer, double& count, bool& moved);
  void updateInterest(Relay& relay);
  // Ends relays that stayed silent past their limit; returns the epoll_wait timeout until the next sweep.
  int sweep();
  void watch(Relay& relay, Limits limits);
  void fail(Relay& relay, const std::string& error);
  void finish(Relay& relay, const std::string& error, bool notify = true);
  void emitSecure(Relay& relay);
  void keepSession(Relay& relay, SSL_SESSION* session);
  static int onNewSession(SSL* ssl, SSL_SESSION* session);
  // A pipe from the bounded pool (HAProxy's maxpipes), or none: that direction then copies.
  bool takePipe(Pipe* pipe);
  // Back to the pool when empty; closed when bytes are still in it (a relay torn down mid-way).
  void givePipe(Pipe* pipe, bool empty);

  Emit emit_;
  int epoll_ = -1;
  int wake_ = -1;
  SSL_CTX* clientContext_ = nullptr;
  std::thread thread_;
  std::mutex mutex_;
  std::deque<Command> commands_;
  std::unordered_map<uint32_t, std::unique_ptr<Relay>> relays_;
  std::unordered_map<std::string, SSL_SESSION*> sessions_;  // client sessions by server name, engine thread only
  std::vector<Pipe> pipes_;  // free pipes, engine thread only
  size_t pipesOpen_ = 0;     // pipes that exist (free or in use)
  bool running_ = false;
  // The silence watch (see sweep()): a coarse tick, a quarter of the shortest limit in use.
  std::chrono::steady_clock::time_point nextSweep_{};
  uint32_t sweepMs_ = 0;
};

}  // namespace pinhole
