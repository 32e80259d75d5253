
spillway.modelhuge B	 N(