<?php
defined('BASEPATH') OR exit('No direct script access allowed');
const CI_VERSION = '3.1.13';
