"""Published dashboards: the notebook Voila runs, the Voila process, and the viewers' proxy."""
