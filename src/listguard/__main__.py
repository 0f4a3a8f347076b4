from listguard.cli.main import run

run()
