from media.app import main

main()
