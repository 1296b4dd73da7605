"""RealtyForYou scheduling: tours between buyers and realtors, booked without double bookings."""
