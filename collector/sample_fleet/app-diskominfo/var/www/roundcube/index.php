<?php // the login page
