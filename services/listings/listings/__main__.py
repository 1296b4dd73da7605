from listings.app import main

main()
