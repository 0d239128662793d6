<?php
// DokuWiki initialisation
