"""Where media are decoded: a pool of limited child processes (`pool`) running the hashing
child (`child`), so one job's hostile media never stops another's."""
