"""The mock's one table of options: every setting has its flag, its default is MockConfig's, its reference is made."""

from __future__ import annotations

from dataclasses import fields

from mockserver import options
from mockserver.cli import parser
from mockserver.config import MockConfig

NOT_FLAGS = {"owns_process", "faults"}  # the CLI sets the first itself; --latency and --fault make the second


def test_every_setting_of_the_config_has_exactly_one_flag() -> None:
    settings = [option.field for option in options.OPTIONS if option.field is not None]
    assert sorted(settings) == sorted({f.name for f in fields(MockConfig)} - NOT_FLAGS)


def test_the_parser_takes_its_defaults_from_the_config() -> None:
    parsed = vars(parser().parse_args([]))
    defaults = MockConfig()
    for option in options.OPTIONS:
        if option.field is not None and not option.repeat:
            assert parsed[option.dest] == getattr(defaults, option.field), option.flag
    assert options.config_from(parsed) == defaults


def test_the_reference_lists_every_flag_with_its_default() -> None:
    reference = options.reference()
    for option in options.OPTIONS:
        assert f"`{option.flag}" in reference, option.flag
    assert "(default: 127.0.0.1)" in reference and "(default: 10000)" in reference
    assert reference.count("\n") == len(options.OPTIONS) + 2
