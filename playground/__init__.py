"""The browser playground: a local Slack channel in the browser, served by the Slack emulator, with
the real bot behind it (`python -m bot playground`). The bot package never imports this one."""
