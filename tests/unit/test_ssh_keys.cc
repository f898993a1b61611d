// daemon/ssh_keys.cc: which stored key texts become authorized_keys lines
// for sshd, and how they are written; the keys are real ssh-keygen output
// (the two security-key blobs are built as OpenSSH lays them out).
#include <string>
#include <vector>

#include "daemon/ssh_keys.h"

// cmocka last: its macros (fail, ...) must not meet the C++ headers.
extern "C" {
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
}

using namespace dj::sshkeys;

namespace {

const std::string kEd = "AAAAC3NzaC1lZDI1NTE5AAAAILfnoNin+FVLedC5J6P6eC4u3t1F6BbL7i2M4IZKaBkR";
const std::string kEcdsa256 =
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBH8U+XQEXvg9YnyjQSUfIU4XBuCDMzKHB9qSoxuUR9EbUupWCCCGPuqa/"
    "oKRaPuJ6RliHqG7EZ04qfSEocgxgok=";
const std::string kEcdsa384 =
    "AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBHn1Bw8nu5ZpLLQONZshS6YL+L5EyiXeh7xz+oZysWRvNpNZHfGVbVUtIe4A"
    "IwWjuC9nP1gjH44TjtknAgPgXg6/p/FEmcmk9v2ctKM+v5teMTkMCoaMNc4v1BFTjsID";
const std::string kSkEd =
    "AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAAAABHNzaDo=";
const std::string kSkEcdsa =
    "AAAAInNrLWVjZHNhLXNoYTItbmlzdHAyNTZAb3BlbnNzaC5jb20AAAAIbmlzdHAyNTYAAABBBAICAgICAgICAgICAgICAgICAgICAgICAgICAg"
    "ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAAAAEc3NoOg==";
const std::string kRsa =
    "AAAAB3NzaC1yc2EAAAADAQABAAAAgQD3SFHGn2Xp7wk+JAJucykF2gt/Gcfmfsur/Qftp3wiaXso/DMF88Va1L7tQ4SxTuWgXtiJA3y91yZ/"
    "+/lIktJLgGQDij3l8PCV+u0CNvfy6AANU6WRhVaJW7B0m3YkI6lWFK7pg4oH71oqp6kHeRqxxMOW2Rn50odF";

const AllowedOptions kNone{};

// The accepted line, or "" (and the reason in `why`) when refused.
std::string checked(const std::string& text, const AllowedOptions& allowed = kNone, std::string* why_out = nullptr) {
    std::string why;
    auto line = check_line(text, allowed, why);
    if (why_out) *why_out = why;
    if (line) assert_true(why.empty());
    else assert_false(why.empty());
    return line ? *line : std::string();
}

// The reason `text` is refused (it must be).
std::string refusal(const std::string& text, const AllowedOptions& allowed = kNone) {
    std::string why;
    assert_string_equal(checked(text, allowed, &why).c_str(), "");
    return why;
}

void test_every_key_type_openssh_takes(void** /*state*/) {
    assert_string_equal(checked("ssh-ed25519 " + kEd + " alice@laptop").c_str(),
                        ("ssh-ed25519 " + kEd + " alice@laptop").c_str());
    assert_string_equal(checked("ecdsa-sha2-nistp256 " + kEcdsa256).c_str(), ("ecdsa-sha2-nistp256 " + kEcdsa256).c_str());
    assert_false(checked("ecdsa-sha2-nistp384 " + kEcdsa384 + " c").empty());
    assert_false(checked("sk-ssh-ed25519@openssh.com " + kSkEd).empty());
    assert_false(checked("sk-ecdsa-sha2-nistp256@openssh.com " + kSkEcdsa + " yubikey").empty());
    // An RSA key cut short still names its type: only the type is checked.
    assert_false(checked("ssh-rsa " + kRsa).empty());
}

void test_normalized_spaces_and_comment_kept(void** /*state*/) {
    assert_string_equal(checked("   ssh-ed25519    " + kEd + "    my key  ").c_str(),
                        ("ssh-ed25519 " + kEd + " my key").c_str());
    // UTF-8 in a comment is the user's business.
    assert_false(checked("ssh-ed25519 " + kEd + " cl\xc3\xa9 de Zo\xc3\xa9").empty());
}

void test_line_breaks_and_control_characters(void** /*state*/) {
    const std::string ed = "ssh-ed25519 " + kEd;
    // The smuggled second key: one row, two lines.
    assert_string_equal(refusal(ed + " a\nssh-ed25519 " + kEd + " b").c_str(), "contains a newline");
    assert_string_equal(refusal(ed + "\n").c_str(), "contains a newline");
    assert_string_equal(refusal(ed + " a\rssh-rsa " + kRsa).c_str(), "contains a carriage return");
    assert_string_equal(refusal(ed + std::string(" a\0b", 4)).c_str(), "contains a NUL byte");
    assert_string_equal(refusal("ssh-ed25519\t" + kEd).c_str(), "contains a control character");
    assert_string_equal(refusal(ed + " \x1b[2Jx").c_str(), "contains a control character");
    assert_string_equal(refusal(ed + " \x7f").c_str(), "contains a control character");
}

void test_types_and_blobs(void** /*state*/) {
    assert_string_equal(refusal("").c_str(), "empty");
    assert_string_equal(refusal("   ").c_str(), "empty");
    // ssh-dss is off in OpenSSH 9.
    assert_string_equal(refusal("ssh-dss AAAAB3NzaC1kc3MAAACBAP").c_str(), "unknown key type");
    assert_string_equal(refusal("AAAAC3NzaC1lZDI1NTE5").c_str(), "unknown key type");
    assert_string_equal(refusal("ssh-ed25519").c_str(), "no key data");
    assert_string_equal(refusal("ssh-ed25519 " + kEd.substr(0, kEd.size() - 1)).c_str(), "key data is not valid base64");
    assert_string_equal(refusal("ssh-ed25519 " + kEd + "=").c_str(), "key data is not valid base64");
    assert_string_equal(refusal("ssh-ed25519 AAAA=AAA").c_str(), "key data is not valid base64");
    assert_string_equal(refusal("ssh-ed25519 AAAAC3Nz*C1lZDI1NTE5").c_str(), "key data is not valid base64");
    // A blob of another type under this name, and a bare type string.
    assert_string_equal(refusal("ssh-ed25519 " + kRsa).c_str(), "key data is not a ssh-ed25519 key");
    assert_string_equal(refusal("ecdsa-sha2-nistp384 " + kEcdsa256).c_str(), "key data is not a ecdsa-sha2-nistp384 key");
    assert_string_equal(refusal("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5").c_str(), "key data is not a ssh-ed25519 key");
    assert_string_equal(refusal(std::string(kMaxKeyLine + 1, 'a')).c_str(), "longer than 8192 bytes");
}

void test_options_need_the_administrators_word(void** /*state*/) {
    const std::string key = "ssh-ed25519 " + kEd + " c";
    assert_string_equal(refusal("no-pty " + key).c_str(), "option 'no-pty' not allowed ([ssh] allowed_options)");
    assert_string_equal(refusal("command=\"/bin/sh -c 'id'\" " + key).c_str(),
                        "option 'command=' not allowed ([ssh] allowed_options)");

    const AllowedOptions some{{"no-agent-forwarding", "No-Port-Forwarding", "from="}};
    assert_string_equal(checked("no-agent-forwarding,no-port-forwarding " + key, some).c_str(),
                        ("no-agent-forwarding,no-port-forwarding " + key).c_str());
    assert_string_equal(checked("from=\"10.0.0.0/8,192.168.1.*\" " + key, some).c_str(),
                        ("from=\"10.0.0.0/8,192.168.1.*\" " + key).c_str());
    // Case as sshd reads it; a quoted value with an escaped quote and spaces.
    assert_false(checked("FROM=\"a \\\" b\",NO-AGENT-FORWARDING " + key, some).empty());
    // One option not allowed spoils the line.
    assert_string_equal(refusal("no-agent-forwarding,command=\"x\" " + key, some).c_str(),
                        "option 'command=' not allowed ([ssh] allowed_options)");
    // A flag allowed does not allow a value, nor a value a flag.
    assert_string_equal(refusal("no-agent-forwarding=\"x\" " + key, some).c_str(),
                        "option 'no-agent-forwarding=' not allowed ([ssh] allowed_options)");
    assert_string_equal(refusal("from " + key, some).c_str(), "option 'from' not allowed ([ssh] allowed_options)");
    assert_string_equal(refusal("from=10.0.0.1 " + key, some).c_str(), "malformed value of option 'from'");
    assert_string_equal(refusal("from=\"10.0.0.1 " + key, some).c_str(), "unterminated value of option 'from'");
    assert_string_equal(refusal("from=\"10.0.0.1", some).c_str(), "unterminated value of option 'from'");
    assert_string_equal(refusal("no-agent-forwarding,," + key, some).c_str(), "malformed options");
    // sshd refuses a line with an option it does not know; so do we, allowed or not.
    const AllowedOptions odd{{"no-pty", "x-frobnicate"}};
    assert_string_equal(refusal("no-pty,x-frobnicate " + key, odd).c_str(), "unknown option 'x-frobnicate'");
    assert_string_equal(refusal("no-agent-forwarding,from=\"x\";y " + key, some).c_str(), "malformed options");
    assert_string_equal(refusal("no-agent-forwarding", some).c_str(), "malformed options");
    assert_string_equal(refusal("from=\"caf\xc3\xa9\" " + key, some).c_str(), "non-ASCII value of option 'from'");
    assert_string_equal(refusal("no-agent-forwarding ssh-dss AAAA", some).c_str(), "unknown key type");
}

}  // namespace

int main() {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_key_type_openssh_takes),
        cmocka_unit_test(test_normalized_spaces_and_comment_kept),
        cmocka_unit_test(test_line_breaks_and_control_characters),
        cmocka_unit_test(test_types_and_blobs),
        cmocka_unit_test(test_options_need_the_administrators_word),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
