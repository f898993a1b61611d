"""Django with django-otp, run by test_otp.py under Debian's /usr/bin/python3
(DJANGO_SETTINGS_MODULE=otp_settings): makes the users and TOTP devices the
way django-otp makes them, and is the oracle for codes and verification.

    otp_site.py setup SPEC.json      migrate, then the users and devices of SPEC
    otp_site.py codes USER OFFSETS   django-otp's codes for USER's first confirmed
                                     device at now + offset steps (JSON list;
                                     each: code, t), computed with django_otp.oath.totp
    otp_site.py row USER             the device's last_t, drift (JSON)
    otp_site.py verify USER CODE     TOTPDevice.verify_token (JSON: true/false)
    otp_site.py device USER          a confirmed TOTP device for an existing user
    otp_site.py reset USER           the device as new: last_t -1, drift 0, no throttling
    otp_site.py serve                the commands above, one JSON list a line on
                                     stdin, each answered by a JSON line (one
                                     Django start for a whole test module)
"""
import json
import sys
import time

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django_otp.oath import totp  # noqa: E402
from django_otp.plugins.otp_totp.models import TOTPDevice  # noqa: E402


def device(user):
    return TOTPDevice.objects.filter(user__username=user, confirmed=True).order_by("id").first()


def run(argv):
    """The answer to one command line (argv without the program)."""
    sys.argv = [sys.argv[0]] + [str(a) for a in argv]
    cmd = sys.argv[1]
    if cmd == "setup":
        from django.core.management import call_command
        call_command("migrate", verbosity=0)
        spec = json.load(open(sys.argv[2]))
        for u in spec["users"]:
            user = User.objects.create_user(u["username"], password=u["password"])
            for d in u.get("devices", []):
                TOTPDevice.objects.create(user=user, name=d.get("name", "phone"), **d.get("fields", {}))
        return True
    elif cmd == "codes":
        d = device(sys.argv[2])
        now = int(time.time())
        out = []
        for off in json.loads(sys.argv[3]):
            # what the phone shows `off` steps from now: the drift moves the step
            code = totp(d.bin_key, d.step, d.t0, d.digits, d.drift + off)
            t = (now - d.t0) // d.step + d.drift + off
            out.append(dict(code=str(code).zfill(d.digits), t=t))
        return out
    elif cmd == "row":
        d = device(sys.argv[2])
        return dict(last_t=d.last_t, drift=d.drift)
    elif cmd == "device":
        from django.core.management import call_command
        call_command("migrate", verbosity=0)
        TOTPDevice.objects.create(user=User.objects.get(username=sys.argv[2]), name="phone")
        return True
    elif cmd == "reset":
        TOTPDevice.objects.filter(user__username=sys.argv[2]).update(
            last_t=-1, drift=0, throttling_failure_count=0, throttling_failure_timestamp=None)
        return True
    elif cmd == "verify":
        return device(sys.argv[2]).verify_token(sys.argv[3])
    raise SystemExit("unknown command %r" % cmd)


if sys.argv[1] == "serve":
    for line in sys.stdin:
        print(json.dumps(run(json.loads(line))), flush=True)
else:
    print(json.dumps(run(sys.argv[1:])))
