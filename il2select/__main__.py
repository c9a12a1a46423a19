from il2select.cli import main

main()
