// tests/net/sdk/sdk_test.cpp — the SDK's login reply framing and parsing, its login timeout, and the
// observer's world reassembly (sdk::WorldAssembler).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "net/sdk/login_client.h"
#include "net/sdk/observer.h"

namespace strata {
namespace {

std::string response(const std::string& status, const std::string& body, const std::string& extra = "") {
  return "HTTP/1.1 " + status + "\r\n" + extra + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

TEST(LoginReply, FramesOnlyOnceTheBodyIsIn) {
  const std::string whole = response("200 OK", "{\"player\":3}", "Connection: close\r\n");
  const sdk::ResponseFrame partial = sdk::frame_response(std::string_view(whole).substr(0, whole.size() - 1));
  EXPECT_FALSE(partial.complete);
  EXPECT_FALSE(partial.failed);
  const sdk::ResponseFrame frame = sdk::frame_response(whole);
  ASSERT_TRUE(frame.complete);
  EXPECT_TRUE(frame.close);
  EXPECT_EQ(frame.body_bytes, 12U);
  EXPECT_EQ(frame.headers_bytes + frame.body_bytes, whole.size());
}

TEST(LoginReply, RefusesResponsesItCannotFrame) {
  for (const std::string& bad :
       {std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
        std::string("HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n"),
        std::string("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
        std::string("HTTP/1.1 200 OK\r\nX: ") + std::string(sdk::login_response_bytes_max, 'x')}) {
    const sdk::ResponseFrame frame = sdk::frame_response(bad);
    EXPECT_TRUE(frame.failed) << bad.substr(0, 60);
    EXPECT_FALSE(frame.error.empty());
  }
}

TEST(LoginReply, ParsesTheTokenAndTheTcpEndpoint) {
  const std::string body = "{\"player\":42,\"token\":\"AAECAw==\",\"tcp_port\":4000}";
  std::string error;
  const auto reply =
      sdk::parse_login_reply("HTTP/1.1 200 OK\r\n\r\n", body, std::array<uint8_t, 4>{127, 0, 0, 9}, error);
  ASSERT_TRUE(reply) << error;
  EXPECT_EQ(reply->player, 42U);
  EXPECT_EQ(reply->token, (std::vector<uint8_t>{0, 1, 2, 3}));
  EXPECT_EQ(reply->tcp_port, 4000);
  EXPECT_EQ(reply->server_tcp, net::make_ipv4(127, 0, 0, 9, 4000));
}

TEST(LoginReply, RefusesWithAReason) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"HTTP/1.1 400 Bad Request\r\n\r\n", "{\"error\":\"no\"}"},
      {"HTTP/1.1 200 OK\r\n\r\n", "{\"player\":99999999999,\"token\":\"AA==\"}"},
      {"HTTP/1.1 200 OK\r\n\r\n", "{\"player\":1,\"token\":\"@@@\"}"},
      {"HTTP/1.1 200 OK\r\n\r\n", "{\"player\":1,\"token\":\"AAAA"},
  };
  for (const auto& [head, body] : bad) {
    std::string error;
    EXPECT_FALSE(sdk::parse_login_reply(head, body, std::nullopt, error)) << body;
    EXPECT_FALSE(error.empty()) << body;
  }
}

// A server that accepts connections (the kernel does, into the backlog) and never answers: the
// login must fail with a timeout instead of waiting forever (what kept strata-bot from exiting).
TEST(LoginClient, GivesUpOnAServerThatNeverAnswers) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(listener, 8), 0);
  socklen_t size = sizeof(address);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &size), 0);
  std::string error;
  const auto reply = sdk::http_login("127.0.0.1", ntohs(address.sin_port), "someone", error, false, 200);
  EXPECT_FALSE(reply);
  EXPECT_NE(error.find("timed out"), std::string::npos) << error;
  ::close(listener);
}

view::ObserverPart part(uint32_t index, uint32_t count, size_t bytes, uint8_t fill) {
  return view::ObserverPart{index, count, std::vector<uint8_t>(bytes, fill)};
}

TEST(WorldAssembler, AssemblesPartsInOrder) {
  sdk::WorldAssembler assembler;
  std::string error;
  EXPECT_EQ(assembler.add(part(0, 3, 2, 1), error), sdk::WorldAssembler::Result::incomplete);
  EXPECT_EQ(assembler.add(part(1, 3, 1, 2), error), sdk::WorldAssembler::Result::incomplete);
  EXPECT_EQ(assembler.add(part(2, 3, 1, 3), error), sdk::WorldAssembler::Result::complete);
  EXPECT_EQ(assembler.take(), (std::vector<uint8_t>{1, 1, 2, 3}));
  EXPECT_EQ(assembler.parts_received(), 0U);
}

TEST(WorldAssembler, RefusesABrokenSequenceAndStartsAgain) {
  sdk::WorldAssembler assembler;
  std::string error;
  EXPECT_EQ(assembler.add(part(1, 2, 1, 1), error), sdk::WorldAssembler::Result::refused);
  EXPECT_NE(error.find("out of order"), std::string::npos) << error;
  EXPECT_EQ(assembler.add(part(0, 3, 1, 1), error), sdk::WorldAssembler::Result::incomplete);
  // A later part that says the world is shorter must not complete it early.
  EXPECT_EQ(assembler.add(part(1, 2, 1, 1), error), sdk::WorldAssembler::Result::refused);
  EXPECT_NE(error.find("count changed"), std::string::npos) << error;
  EXPECT_TRUE(assembler.take().empty());
  EXPECT_EQ(assembler.add(part(0, 0, 1, 1), error), sdk::WorldAssembler::Result::refused);
  EXPECT_EQ(assembler.add(part(0, 1, view::observer_part_bytes_max + 1, 1), error),
            sdk::WorldAssembler::Result::refused);
  EXPECT_EQ(assembler.add(part(0, 1, 5, 7), error), sdk::WorldAssembler::Result::complete);
  EXPECT_EQ(assembler.take(), std::vector<uint8_t>(5, 7));
}

}  // namespace
}  // namespace strata
