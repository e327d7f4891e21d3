from pypi_login.cli import main

raise SystemExit(main())
