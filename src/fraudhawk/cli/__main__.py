from fraudhawk.cli.main import main

main()
