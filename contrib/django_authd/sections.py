"""What a section of django-auth.conf is made of: its keys (in order), and
what the reading of the site found along the way. `warnings` are what the
daemon cannot serve as the site does (the command fails on them unless
--force); `notes` are what the admin should know but need not fix."""
import re
import textwrap

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?\Z")


class Section:
    def __init__(self, name):
        self.name = name
        self.keys = {}
        self.warnings = []
        self.notes = []

    def set(self, key, value):
        value = "" if value is None else str(value)
        # The daemon's INI reader ends a value at " #" or " ;" (but the
        # password's) and trims the ends of every value.
        if key != "password" and (" #" in value or " ;" in value):
            self.warnings.append("%s %r holds ' #' or ' ;', which start a comment there" % (key, value))
        if value != value.strip() or "\n" in value:
            self.warnings.append("the value of %s starts or ends with a space, or has a line break,"
                                 " which the daemon's file cannot hold" % key)
        self.keys[key] = value

    def render(self):
        lines = ["[%s]" % self.name]
        for prefix, texts in (("# WARNING: ", self.warnings), ("# note: ", self.notes)):
            for text in texts:
                lines += textwrap.wrap(text, 79, initial_indent=prefix, subsequent_indent="#   ",
                                       break_on_hyphens=False)
        lines += ["%s = %s" % (k, v) if v else "%s =" % k for k, v in self.keys.items()]
        return "\n".join(lines) + "\n"
