<?php
// Moodle setup
