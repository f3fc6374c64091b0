"""Reading settings from the environment, with one line per mistake.

environs parses strictly, but its errors end a 40-line traceback. `Env` here parses the same
way and turns a malformed value into `BadSetting`: a SystemExit whose text is one line naming
the variable, its value and the expected form, e.g.

    Bad setting DEBUG=perhaps: expected true or false

A SystemExit, because every process that reads the settings (manage.py, gunicorn, Celery,
`make run`'s supervisor) then stops with that line on stderr and a non-zero status, and no
`except Exception` on the way (gunicorn's worker, Django's command runner) turns it back into
a traceback.
"""

import functools
import os
import re

import environs
from marshmallow import validate as ma_validate

# The form each parser expects, as a person would write it.
FORMS = {
    "bool": "true or false",
    "int": "a whole number",
    "float": "a number",
    "str": "a text",
    "list": "a comma-separated list",
    "url": "a URL such as https://jalon.example.org",
    "path": "a file path",
    "log_level": "a log level: DEBUG, INFO, WARNING, ERROR or CRITICAL",
    "dj_db_url": "a database URL such as postgres://user:password@host:5432/jalon "
    "or sqlite:////absolute/path.sqlite3",
}
_SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|ACCESS_KEY")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*):[^@\s]*@")


class BadSetting(SystemExit):
    """A setting that cannot be used: stops the process with one line, never a traceback."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def bad_setting(name: str, expected: str) -> BadSetting:
    """The error for variable `name`, quoting its value (hidden for secrets)."""
    value = os.environ.get(name)
    if value is None:
        return BadSetting(f"Missing setting {name}: expected {expected}")
    if _SECRET_NAME.search(name):
        shown = f"{name} (value hidden)"
    else:
        value = _URL_PASSWORD.sub(r"\1:***@", value)
        quoted = not value or any(char.isspace() for char in value)
        shown = f'{name}="{value}"' if quoted else f"{name}={value}"
    return BadSetting(f"Bad setting {shown}: expected {expected}")


def _choices(validator) -> str:
    return ", ".join(str(choice) for choice in validator.choices)


def expected_form(form: str, validators) -> str:
    """The type's form narrowed by the validators environs was given (those we can read)."""
    if validators is None:
        validators = []
    elif callable(validators):
        validators = [validators]
    for validator in validators:
        if isinstance(validator, ma_validate.ContainsOnly):
            form = f"{form} of {_choices(validator)}"
        elif isinstance(validator, ma_validate.OneOf):
            form = f"one of {_choices(validator)}"
        elif isinstance(validator, ma_validate.Range):
            if validator.min is not None and validator.max is not None:
                form = f"{form} from {validator.min} to {validator.max}"
            elif validator.min is not None:
                form = f"{form} of at least {validator.min}"
            elif validator.max is not None:
                form = f"{form} of at most {validator.max}"
        elif isinstance(validator, ma_validate.Length) and validator.min:
            form = f"{form}, not empty" if validator.min == 1 else f"{form} of {validator.min}+"
    return form


def _one_line(method_name: str):
    parse = getattr(environs.Env, method_name)

    @functools.wraps(parse)
    def method(self, name, *args, expected: str | None = None, **kwargs):
        try:
            return parse(self, name, *args, **kwargs)
        except environs.EnvError:
            form = expected or expected_form(FORMS[method_name], kwargs.get("validate"))
            raise bad_setting(name, form) from None

    return method


class Env(environs.Env):
    """environs.Env whose parse errors are one line (BadSetting).

    Each parser also takes `expected="..."`, the form to name when the type alone says too
    little (a rate, a time zone).
    """

    bool = _one_line("bool")
    int = _one_line("int")
    float = _one_line("float")
    str = _one_line("str")
    list = _one_line("list")
    url = _one_line("url")
    path = _one_line("path")
    log_level = _one_line("log_level")
    dj_db_url = _one_line("dj_db_url")
